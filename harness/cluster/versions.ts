/**
 * The one place that pins the control plane the project builds and tests against.
 * Changing a version here makes the next run build into a new cache directory.
 */
export const versions = {
  kubernetes: "1.36.3",
  etcd: "3.6.16",
  helm: "3.22.0",
  /** promtool (`promtool check rules` / `test rules` of the chart's alerts): Prometheus 3.16.0 */
  prometheusModule: "0.316.0",
} as const;
