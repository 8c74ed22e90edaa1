/**
 * The scale scenario alone (1000 policies Ready, controller peak RSS, library RSS): the same as
 * `node bench/index.ts --only scale [--quick] [--kubeconfig PATH]`.
 */
import { main } from "./index.ts";

process.exitCode = await main(["--only", "scale", ...process.argv.slice(2)]);
