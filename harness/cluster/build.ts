/**
 * Builds the control-plane binaries (kube-apiserver, kube-controller-manager, kubectl, etcd,
 * helm) from the official Go modules, once, into a cache directory outside the repo:
 *
 *   ${XDG_CACHE_HOME:-~/.cache}/ticket-key-operator/k8s-<version>/bin
 *
 * Each tool is built in a throwaway Go module. For Kubernetes that module requires
 * k8s.io/kubernetes and replaces every staging module of the release (`k8s.io/<name> =>
 * k8s.io/<name> v0.Y.Z`), as the upstream go.mod points them at ./staging. Binaries are built into
 * a temporary directory that is renamed into place only when every build succeeded, and a
 * manifest written last marks the directory complete: a half-finished build is never used.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { versions } from "./versions.ts";

const run = promisify(execFile);

export const binaries = ["kube-apiserver", "kube-controller-manager", "kubectl", "etcd", "helm"] as const;
export type Binary = (typeof binaries)[number];

export function cacheRoot(): string {
  const base = process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache");
  return join(base, "ticket-key-operator");
}

export function binDir(): string {
  return join(cacheRoot(), `k8s-${versions.kubernetes}`, "bin");
}

const manifestName = ".complete.json";

function manifest(): string {
  return JSON.stringify({ ...versions, binaries }, null, 2);
}

async function isComplete(dir: string): Promise<boolean> {
  try {
    return (await readFile(join(dir, manifestName), "utf8")) === manifest();
  } catch {
    return false;
  }
}

export function binaryPath(name: Binary): string {
  return join(binDir(), name);
}

interface GoModule {
  /** directory name inside the work dir */
  name: string;
  require: Record<string, string>;
  replace?: Record<string, string>;
  packages: string[];
  /** output file name, for a module whose single main package is not named after the tool */
  binary?: string;
  /** -X flags stamping version variables that the upstream release build would set */
  stamp?: Record<string, string>;
}

const goEnv = {
  ...process.env,
  CGO_ENABLED: "0",
  GOFLAGS: "-mod=mod",
  GOTOOLCHAIN: "local",
};

async function goBuild(work: string, out: string, mod: GoModule, log: (line: string) => void): Promise<void> {
  const dir = join(work, mod.name);
  await mkdir(dir, { recursive: true });
  const requires = Object.entries(mod.require).map(([m, v]) => `\t${m} ${v}`);
  const replaces = Object.entries(mod.replace ?? {}).map(([m, v]) => `\t${m} => ${m} ${v}`);
  await writeFile(
    join(dir, "go.mod"),
    [
      `module tko-build/${mod.name}`,
      "",
      "go 1.25.0",
      "",
      "require (",
      ...requires,
      ")",
      ...(replaces.length > 0 ? ["", "replace (", ...replaces, ")"] : []),
      "",
    ].join("\n"),
  );
  // A blank-import file keeps `go mod tidy` from dropping what we are about to build.
  await writeFile(
    join(dir, "tools.go"),
    `//go:build tools\n\npackage tools\n\nimport (\n${mod.packages.map((p) => `\t_ "${p}"`).join("\n")}\n)\n`,
  );
  const started = Date.now();
  log(`go: resolving ${Object.keys(mod.require).join(", ")}`);
  await run("go", ["mod", "tidy"], { cwd: dir, env: goEnv, maxBuffer: 64 << 20 });
  log(`go: building ${mod.binary ?? mod.packages.map((p) => p.split("/").pop()).join(", ")}`);
  const ldflags = ["-s", "-w", ...Object.entries(mod.stamp ?? {}).map(([k, v]) => `-X ${k}=${v}`)].join(" ");
  const output = mod.binary === undefined ? `${out}/` : join(out, mod.binary);
  await run("go", ["build", "-trimpath", `-ldflags=${ldflags}`, "-o", output, ...mod.packages], {
    cwd: dir,
    env: goEnv,
    maxBuffer: 64 << 20,
  });
  log(`go: built ${mod.name} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** The -X flags Kubernetes' own release build sets, so /version reports the real release. */
function versionStamp(version: string): Record<string, string> {
  const [major = "", minor = ""] = version.split(".");
  const stamp: Record<string, string> = {};
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    stamp[`${pkg}.gitVersion`] = `v${version}`;
    stamp[`${pkg}.gitMajor`] = major;
    stamp[`${pkg}.gitMinor`] = minor;
    stamp[`${pkg}.gitTreeState`] = "clean";
  }
  return stamp;
}

/** Reads the staging modules of a Kubernetes release from its own go.mod. */
async function stagingModules(work: string, version: string): Promise<string[]> {
  const dir = join(work, "probe");
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "go.mod"), "module probe\n\ngo 1.25.0\n");
  const { stdout } = await run("go", ["mod", "download", "-json", `k8s.io/kubernetes@v${version}`], {
    cwd: dir,
    env: goEnv,
    maxBuffer: 16 << 20,
  });
  const info = JSON.parse(stdout) as { GoMod?: string; Error?: string };
  if (info.GoMod === undefined)
    throw new Error(`cannot download k8s.io/kubernetes@v${version}: ${info.Error}`);
  const goMod = await readFile(info.GoMod, "utf8");
  const staging = [...goMod.matchAll(/^\s*(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)].map((m) => m[1] ?? "");
  if (staging.length < 10) throw new Error(`found only ${staging.length} staging modules in ${info.GoMod}`);
  return staging;
}

/**
 * Returns the directory holding every binary, building whatever is missing first.
 * Safe to call from several processes: each builds privately and the first rename wins.
 */
export async function ensureBinaries(log: (line: string) => void = () => undefined): Promise<string> {
  const dir = binDir();
  if (await isComplete(dir)) return dir;

  const k8s = versions.kubernetes;
  const minor = k8s.replace(/^1\./, "0.");
  log(
    `control plane binaries missing in ${dir}: building Kubernetes v${k8s}, etcd v${versions.etcd}, helm v${versions.helm} from Go modules (first run only; ~20-40 min on 2 cores)`,
  );
  await mkdir(cacheRoot(), { recursive: true });
  const work = await mkdtemp(join(cacheRoot(), ".build-"));
  const out = join(work, "bin");
  try {
    const staging = await stagingModules(work, k8s);
    const modules: GoModule[] = [
      {
        name: "kubernetes",
        require: { "k8s.io/kubernetes": `v${k8s}` },
        replace: Object.fromEntries(staging.map((m) => [m, `v${minor}`])),
        packages: ["kube-apiserver", "kube-controller-manager", "kubectl"].map(
          (c) => `k8s.io/kubernetes/cmd/${c}`,
        ),
        stamp: versionStamp(k8s),
      },
      {
        name: "etcd",
        require: { "go.etcd.io/etcd/server/v3": `v${versions.etcd}` },
        packages: ["go.etcd.io/etcd/server/v3"],
        binary: "etcd",
      },
      {
        name: "helm",
        require: { "helm.sh/helm/v3": `v${versions.helm}` },
        packages: ["helm.sh/helm/v3/cmd/helm"],
      },
    ];
    for (const mod of modules) await goBuild(work, out, mod, log);
    for (const b of binaries) {
      if (!existsSync(join(out, b))) throw new Error(`build finished without ${b}`);
    }
    await writeFile(join(out, manifestName), manifest());
    // Another process may have finished first; its result is as good as ours.
    if (!(await isComplete(dir))) {
      await mkdir(join(dir, ".."), { recursive: true });
      await rm(dir, { recursive: true, force: true });
      await rename(out, dir);
    }
    log(`control plane binaries ready in ${dir}`);
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
