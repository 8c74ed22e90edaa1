/**
 * Builds the control-plane binaries (kube-apiserver, kube-controller-manager, kubectl, etcd,
 * helm) and promtool (the chart's alert rules) from the official Go modules, once, into a cache
 * directory outside the repo:
 *
 *   ${XDG_CACHE_HOME:-~/.cache}/ticket-key-operator/k8s-<version>/bin
 *
 * Each tool is built in a throwaway Go module. For Kubernetes that module requires
 * k8s.io/kubernetes and replaces every staging module of the release (`k8s.io/<name> =>
 * k8s.io/<name> v0.Y.Z`), as the upstream go.mod points them at ./staging. Each module's
 * binaries are built into a temporary directory and renamed into place when its build succeeded,
 * and a manifest per module, written last, marks them complete: a half-finished build is never
 * used, and a tool added later is built alone.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { versions } from "./versions.ts";

const run = promisify(execFile);

export const binaries = [
  "kube-apiserver",
  "kube-controller-manager",
  "kubectl",
  "etcd",
  "helm",
  "promtool",
] as const;
export type Binary = (typeof binaries)[number];
/** What the local control plane and the tests of the chart need (promtool only the alert tests). */
export const clusterBinaries: readonly Binary[] = [
  "kube-apiserver",
  "kube-controller-manager",
  "kubectl",
  "etcd",
  "helm",
];

export function cacheRoot(): string {
  const base = process.env["XDG_CACHE_HOME"] ?? join(homedir(), ".cache");
  return join(base, "ticket-key-operator");
}

export function binDir(): string {
  return join(cacheRoot(), `k8s-${versions.kubernetes}`, "bin");
}

export function binaryPath(name: Binary): string {
  return join(binDir(), name);
}

/** Each module's manifest, written after its binaries are in place: `.<module>.complete.json`. */
function manifestPath(dir: string, mod: GoModule): string {
  return join(dir, `.${mod.name}.complete.json`);
}

function manifest(mod: GoModule): string {
  return JSON.stringify({ require: mod.require, binaries: mod.binaries }, null, 2);
}

async function isComplete(dir: string, mod: GoModule): Promise<boolean> {
  try {
    if ((await readFile(manifestPath(dir, mod), "utf8")) !== manifest(mod)) return false;
  } catch {
    return false;
  }
  return mod.binaries.every((b) => existsSync(join(dir, b)));
}

interface GoModule {
  /** directory name inside the work dir */
  name: string;
  require: Record<string, string>;
  replace?: Record<string, string>;
  /** replace every staging module of the required k8s.io/kubernetes release with its tag */
  pinStaging?: boolean;
  packages: string[];
  /** the binaries it yields (the last element of each package path, unless `binary` is set) */
  binaries: readonly Binary[];
  /** output file name, for a module whose single main package is not named after the tool */
  binary?: Binary;
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
 * Caches built before per-module manifests have one `.complete.json` for kubernetes, etcd and
 * helm: when it names the pinned versions, it stands for those three modules.
 */
async function adoptLegacyManifest(dir: string): Promise<void> {
  const legacy = join(dir, ".complete.json");
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(await readFile(legacy, "utf8")) as Record<string, unknown>;
  } catch {
    return;
  }
  const { kubernetes, etcd, helm } = versions;
  if (old["kubernetes"] === kubernetes && old["etcd"] === etcd && old["helm"] === helm) {
    for (const mod of modules().filter((m) => ["kubernetes", "etcd", "helm"].includes(m.name))) {
      if (mod.binaries.every((b) => existsSync(join(dir, b))))
        await writeFile(manifestPath(dir, mod), manifest(mod));
    }
  }
  await rm(legacy, { force: true });
}

function modules(): GoModule[] {
  const k8s = versions.kubernetes;
  const kubernetes = ["kube-apiserver", "kube-controller-manager", "kubectl"] as const;
  return [
    {
      name: "kubernetes",
      require: { "k8s.io/kubernetes": `v${k8s}` },
      pinStaging: true,
      packages: kubernetes.map((c) => `k8s.io/kubernetes/cmd/${c}`),
      binaries: kubernetes,
      stamp: versionStamp(k8s),
    },
    {
      name: "etcd",
      require: { "go.etcd.io/etcd/server/v3": `v${versions.etcd}` },
      packages: ["go.etcd.io/etcd/server/v3"],
      binaries: ["etcd"],
      binary: "etcd",
    },
    {
      name: "helm",
      require: { "helm.sh/helm/v3": `v${versions.helm}` },
      packages: ["helm.sh/helm/v3/cmd/helm"],
      binaries: ["helm"],
    },
    {
      name: "prometheus",
      require: { "github.com/prometheus/prometheus": `v${versions.prometheusModule}` },
      packages: ["github.com/prometheus/prometheus/cmd/promtool"],
      binaries: ["promtool"],
    },
  ];
}

/**
 * Returns the directory holding the `wanted` binaries (default all), building whatever is missing first (each Go
 * module on its own: adding a tool does not rebuild the others). Safe to call from several
 * processes: each builds privately, moves finished binaries in with a rename and writes the
 * module's manifest last.
 */
export async function ensureBinaries(
  log: (line: string) => void = () => undefined,
  wanted: readonly Binary[] = binaries,
): Promise<string> {
  const dir = binDir();
  await adoptLegacyManifest(dir);
  const missing: GoModule[] = [];
  for (const mod of modules()) {
    if (mod.binaries.some((b) => wanted.includes(b)) && !(await isComplete(dir, mod))) missing.push(mod);
  }
  if (missing.length === 0) return dir;

  log(
    `control plane binaries missing in ${dir}: building ${missing.map((m) => Object.entries(m.require).map(([k, v]) => `${k}@${v}`)).join(", ")} from Go modules (first run only; the whole set takes ~15-25 min on 2 cores)`,
  );
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(cacheRoot(), ".build-"));
  try {
    for (const mod of missing) {
      if (mod.pinStaging === true) {
        // Kubernetes' go.mod points its staging modules at ./staging: pin them to the release.
        const minor = versions.kubernetes.replace(/^1\./, "0.");
        const staging = await stagingModules(work, versions.kubernetes);
        mod.replace = Object.fromEntries(staging.map((m) => [m, `v${minor}`]));
      }
      const out = join(work, `${mod.name}-bin`);
      await mkdir(out, { recursive: true });
      await goBuild(work, out, mod, log);
      for (const b of mod.binaries) {
        if (!existsSync(join(out, b))) throw new Error(`the ${mod.name} build finished without ${b}`);
      }
      // Another process may have finished first; its result is as good as ours.
      if (!(await isComplete(dir, mod))) {
        for (const b of mod.binaries) await rename(join(out, b), join(dir, b));
        await writeFile(manifestPath(dir, mod), manifest(mod));
      }
    }
    log(`control plane binaries ready in ${dir}`);
    return dir;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
