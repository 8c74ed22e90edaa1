/** Every scenario, in the order `npm run bench` runs them. */
import type { Scenario } from "../lib/scenario.ts";
import { resumption } from "./resumption.ts";
import { rotation } from "./rotation.ts";
import { cpu } from "./cpu.ts";
import { propagation } from "./propagation.ts";
import { routerOverhead } from "./router-overhead.ts";
import { scale } from "./scale.ts";

export const scenarios: readonly Scenario[] = [resumption, rotation, cpu, propagation, routerOverhead, scale];
