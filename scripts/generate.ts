/** `npm run generate`: writes every generated artefact (the CRD) from its source of truth. */
import { mkdir, writeFile } from "node:fs/promises";
import { policyCrdYaml } from "../src/api/crd.ts";

await mkdir("crds", { recursive: true });
await writeFile("crds/ticketkeys.dev_ticketkeypolicies.yaml", policyCrdYaml());
console.log("wrote crds/ticketkeys.dev_ticketkeypolicies.yaml");
