/**
 * The Dockerfile, checked without a Docker engine: every file it copies from the build context
 * exists and is not excluded by .dockerignore; what a stage copies from an earlier stage is
 * something that stage copied in or built (npm ci -> node_modules, npm run build -> the outDir
 * of the build's tsconfig); base images are pinned to a major version (Node's matches
 * package.json engines); the image runs as a numeric non-root user; the entrypoint is the
 * package's bin, the bundle of scripts/bundle.ts.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../scripts/render-manifests.ts";
import { bundleName } from "../../scripts/bundle.ts";
import { imageNodeOptions } from "../../scripts/image.ts";

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trimEnd();
    if (pending === "" && (line.trim() === "" || line.trimStart().startsWith("#"))) return;
    if (pending === "") start = i + 1;
    if (pending !== "" && line.trimStart().startsWith("#")) return;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = "";
    const m = /^(\S+)\s*(.*)$/.exec(full);
    if (m) instructions.push({ keyword: m[1]!.toUpperCase(), args: m[2]!, line: start });
  });
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === "FROM") {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `line ${ins.line}: cannot parse FROM ${ins.args}`);
      stages.push({ image: m[1]!, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (ins.keyword === "ARG" && stage === undefined) continue;
      assert.ok(stage, `line ${ins.line}: ${ins.keyword} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return stages;
}

/** COPY/ADD arguments: flags, sources, destination (shell or JSON form). */
function copyArgs(args: string): { flags: Record<string, string>; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args.trim();
  for (let m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest); m; m = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)) {
    flags[m[1]!] = m[2] ?? "true";
    rest = rest.slice(m[0].length);
  }
  const parts = rest.startsWith("[") ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
  const dest = parts.pop();
  assert.ok(dest !== undefined && parts.length > 0, `COPY needs sources and a destination: ${args}`);
  return { flags, sources: parts, dest };
}

/** Docker's .dockerignore semantics (moby/patternmatcher): last matching pattern wins, parents count. */
function dockerignored(patterns: string[], path: string): boolean {
  const toRegExp = (glob: string): RegExp =>
    new RegExp(
      `^${glob
        .split("/")
        .map((seg) =>
          seg === "**"
            ? ".*"
            : seg
                .replace(/[.+^${}()|\\]/g, "\\$&")
                .replace(/\*/g, "[^/]*")
                .replace(/\?/g, "[^/]"),
        )
        .join("/")}$`,
    );
  const segments = posix.normalize(path).replace(/\/$/, "").split("/");
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith("!");
    const pattern = posix.normalize((negated ? raw.slice(1) : raw).trim()).replace(/^\/|\/$/g, "");
    const re = toRegExp(pattern);
    // A pattern matches the path or any of its parent directories.
    const matches = segments.some((_, i) => re.test(segments.slice(0, i + 1).join("/")));
    if (matches) ignored = !negated;
  }
  return ignored;
}

const dockerfile = readFileSync(`${repoRoot}Dockerfile`, "utf8");
const stages = parseDockerfile(dockerfile);
const ignorePatterns = readFileSync(`${repoRoot}.dockerignore`, "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l !== "" && !l.startsWith("#"));
const pkg = JSON.parse(readFileSync(`${repoRoot}package.json`, "utf8")) as {
  engines: { node: string };
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
const finalStage = stages.at(-1)!;

function workdirAt(stage: Stage, index: number): string {
  let dir = "/";
  for (const ins of stage.instructions.slice(0, index)) {
    if (ins.keyword === "WORKDIR") dir = posix.resolve(dir, ins.args.trim());
  }
  return dir;
}

/** Absolute paths a stage produced: COPY destinations and the outputs of known build commands. */
function producedBy(stage: Stage): string[] {
  const produced: string[] = [];
  stage.instructions.forEach((ins, i) => {
    const cwd = workdirAt(stage, i);
    if (ins.keyword === "COPY" || ins.keyword === "ADD") {
      const { sources, dest } = copyArgs(ins.args);
      const target = posix.resolve(cwd, dest);
      for (const src of sources) {
        produced.push(
          dest.endsWith("/") && !src.endsWith("/") ? posix.join(target, posix.basename(src)) : target,
        );
      }
    }
    if (ins.keyword === "RUN") {
      if (/\bnpm ci\b/.test(ins.args)) produced.push(posix.join(cwd, "node_modules"));
      if (/\bnpm run build\b/.test(ins.args)) {
        const project = /-p\s+(\S+)/.exec(pkg.scripts["build"] ?? "")?.[1] ?? "tsconfig.json";
        const tsconfig = JSON.parse(readFileSync(`${repoRoot}${project}`, "utf8")) as {
          compilerOptions?: { outDir?: string };
        };
        const outDir = tsconfig.compilerOptions?.outDir;
        assert.ok(outDir, `${project} sets no outDir`);
        produced.push(posix.join(cwd, outDir));
      }
    }
  });
  return produced;
}

describe("Dockerfile", () => {
  it("parses into named build stages and a final stage", () => {
    assert.ok(stages.length >= 2, "multi-stage");
    for (const stage of stages.slice(0, -1)) assert.ok(stage.name, `stage FROM ${stage.image} is not named`);
  });

  it("pins every base image to a major version; Node's is the one package.json requires", () => {
    const names = new Set<string>();
    const nodeMajor = /(\d+)/.exec(pkg.engines.node)?.[1];
    for (const stage of stages) {
      if (!names.has(stage.image)) {
        const m = /^(?:[^/]+\/)*([^/:@]+)(?::([^@]+))?(?:@sha256:[a-f0-9]{64})?$/.exec(stage.image);
        assert.ok(m, `cannot parse image ${stage.image}`);
        const [, repo = "", tag] = m;
        assert.ok(tag !== undefined && /^\d+/.test(tag), `${stage.image}: pin a major version tag`);
        if (/^node(js)?(\d+)?/.test(repo) || repo === "node") {
          const major = /^(\d+)/.exec(tag)?.[1] ?? /(\d+)/.exec(repo)?.[1];
          assert.equal(major, nodeMajor, `${stage.image}: Node ${nodeMajor} (package.json engines)`);
        }
      }
      if (stage.name) names.add(stage.name);
    }
  });

  it("copies only files that exist in the repository and that .dockerignore lets through", () => {
    let checked = 0;
    for (const stage of stages) {
      for (const ins of stage.instructions) {
        if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
        const { flags, sources } = copyArgs(ins.args);
        if (flags["from"] !== undefined) continue;
        for (const src of sources) {
          assert.ok(!/[*?[]/.test(src), `line ${ins.line}: globs make a missing file silent (${src})`);
          assert.ok(
            existsSync(`${repoRoot}${src}`),
            `line ${ins.line}: ${src} does not exist in the repository`,
          );
          assert.ok(
            !dockerignored(ignorePatterns, src),
            `line ${ins.line}: ${src} is excluded by .dockerignore`,
          );
          checked++;
        }
      }
    }
    assert.ok(checked > 0);
  });

  it("copies from earlier stages only what they copied in or built", () => {
    stages.forEach((stage, index) => {
      for (const ins of stage.instructions) {
        if (ins.keyword !== "COPY") continue;
        const { flags, sources } = copyArgs(ins.args);
        const from = flags["from"];
        if (from === undefined) continue;
        const source = stages.slice(0, index).find((s) => s.name === from);
        assert.ok(source, `line ${ins.line}: --from=${from} is not an earlier stage`);
        const produced = producedBy(source);
        for (const src of sources) {
          const abs = posix.resolve("/", src).replace(/\/$/, "");
          assert.ok(
            produced.some((p) => abs === p || abs.startsWith(`${p}/`)),
            `line ${ins.line}: stage ${from} neither copies nor builds ${src} (it has ${produced.join(", ")})`,
          );
        }
      }
    });
  });

  it("ships the bundle only: no node_modules, no package manager run in the final stage", () => {
    const copied = finalStage.instructions.filter((i) => i.keyword === "COPY").map((i) => copyArgs(i.args));
    assert.ok(
      copied.length > 0 && copied.every((c) => c.flags["from"] !== undefined),
      "copies only from stages",
    );
    const sources = copied.flatMap((c) => c.sources.map((s) => s.replace(/\/$/, "")));
    assert.ok(!sources.some((s) => s.includes("node_modules")), "no node_modules");
    const bin = pkg.bin["ticket-key-operator"];
    assert.ok(bin);
    assert.ok(
      sources.some((s) => posix.join("/app", bin).startsWith(`${s}/`)),
      `copies the directory of ${bin}`,
    );
    const bundled = posix.join("/app/dist/bin", bundleName);
    assert.ok(
      sources.some((s) => bundled.startsWith(`${s}/`)),
      `copies the bundle the bin runs without src/ (${bundled})`,
    );
    assert.ok(
      !sources.some((s) => s === "/app/src" || s.startsWith("/app/src/")),
      "no src/: the bin runs the bundle",
    );
    assert.ok(!finalStage.instructions.some((i) => i.keyword === "RUN" && /\bnpm\b/.test(i.args)));
  });

  it("sets the controller's heap limits in NODE_OPTIONS", () => {
    assert.match(imageNodeOptions(), /--max-old-space-size=\d+/);
  });

  it("runs as a numeric non-root user", () => {
    const users = finalStage.instructions.filter((i) => i.keyword === "USER");
    const user = users.at(-1)?.args.trim();
    assert.ok(user, "the final stage sets USER");
    const m = /^(\d+)(?::(\d+))?$/.exec(user);
    assert.ok(m, `USER ${user} must be numeric (uid[:gid]) so that runAsNonRoot can verify it`);
    assert.notEqual(Number(m[1]), 0, "USER must not be root");
    if (m[2] !== undefined) assert.notEqual(Number(m[2]), 0, "group must not be root");
  });

  it("enters through the package's bin with `controller` as the default command", () => {
    const entrypoint = finalStage.instructions.filter((i) => i.keyword === "ENTRYPOINT").at(-1);
    const cmd = finalStage.instructions.filter((i) => i.keyword === "CMD").at(-1);
    assert.ok(entrypoint && cmd);
    assert.deepEqual(JSON.parse(entrypoint.args), ["ticket-key-operator"]);
    assert.deepEqual(JSON.parse(cmd.args), ["controller"]);
    const bin = pkg.bin["ticket-key-operator"];
    assert.ok(bin);
    const workdir = workdirAt(finalStage, finalStage.instructions.length);
    const link = finalStage.instructions.find(
      (i) => i.keyword === "RUN" && /ln -s\s+(\S+)\s+\/usr\/local\/bin\/ticket-key-operator/.test(i.args),
    );
    assert.ok(link, "ticket-key-operator is linked onto PATH");
    assert.ok(link.args.includes(posix.join(workdir, bin)), `the link points at ${posix.join(workdir, bin)}`);
    assert.match(
      readFileSync(`${repoRoot}${bin}`, "utf8"),
      /^#!\/usr\/bin\/env node\n/,
      `${bin} has a shebang`,
    );
  });
});

describe("dockerignored (the .dockerignore matcher used above)", () => {
  it("follows Docker's allow-list idiom", () => {
    const patterns = ["*", "!src/", "!package.json", "src/**/*.test.ts"];
    assert.equal(dockerignored(patterns, "node_modules"), true);
    assert.equal(dockerignored(patterns, "src"), false);
    assert.equal(dockerignored(patterns, "src/controller/main.ts"), false);
    assert.equal(dockerignored(patterns, "src/a/b.test.ts"), true);
    assert.equal(dockerignored(patterns, "package.json"), false);
    assert.equal(dockerignored(patterns, "test/unit/x.ts"), true);
  });
});
