/** How a consumer is told where its ring comes from: a source object, or the options of one. */
import type { Clock } from "./clock.ts";
import type { Logger } from "./log.ts";
import type { RingSource } from "./ring-source.ts";
import { directorySource, type DirectorySourceOptions } from "./sources/directory.ts";
import { kubernetesSource, type KubernetesSourceOptions } from "./sources/kubernetes.ts";

export type SourceChoice =
  /** A source you create, start and stop yourself (it may feed several consumers). */
  | { source: RingSource }
  /** Watch a Secret through the Kubernetes API; the consumer owns (starts and stops) the source. */
  | { kubernetes: KubernetesSourceOptions }
  /** Follow a mounted Secret directory (a path, or options); the consumer owns the source. */
  | { directory: string | DirectorySourceOptions };

/** The source of a choice, and whether the consumer created it (and so stops it). */
export function resolveSource(
  choice: SourceChoice,
  defaults: { log?: Logger; clock?: Clock },
): { source: RingSource; owned: boolean } {
  if ("source" in choice) return { source: choice.source, owned: false };
  if ("kubernetes" in choice)
    return { source: kubernetesSource({ ...defaults, ...choice.kubernetes }), owned: true };
  const options = typeof choice.directory === "string" ? { path: choice.directory } : choice.directory;
  return { source: directorySource({ ...defaults, ...options }), owned: true };
}
