/** Names fixed by docs/design.md#names, shared by the controller, the library and the sidecar. */
export const group = "ticketkeys.dev";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;
export const kind = "TicketKeyPolicy";
export const plural = "ticketkeypolicies";
export const singular = "ticketkeypolicy";
export const shortName = "tkp";

export const fieldManager = "ticket-key-operator";
export const secretType = "ticketkeys.dev/key-ring";
export const managedByLabel = "app.kubernetes.io/managed-by";
export const managedByValue = "ticket-key-operator";
export const policyLabel = "ticketkeys.dev/policy";
export const rotateAnnotation = "ticketkeys.dev/rotate";
export const revokeAnnotation = "ticketkeys.dev/revoke";
/** On the Secret: the rotate / revoke tokens already acted on, written with the ring they produced. */
export const rotateHandledAnnotation = "ticketkeys.dev/rotate-handled";
export const revokeHandledAnnotation = "ticketkeys.dev/revoke-handled";
/**
 * On the Secret: which secretTemplate labels and annotations it carries ("labels=a,b;annotations=c"),
 * so that a key removed from the template makes the Secret out of date and is removed by the write.
 */
export const templateKeysAnnotation = "ticketkeys.dev/template-keys";
/** On a Secret the policy no longer uses (spec.secretName changed): the Secret that holds its keys now. */
export const supersededByAnnotation = "ticketkeys.dev/superseded-by";
/** The Secret data key of the ring: the core's (src/core/formats.ts, beside the renderings' files). */
export { ringDataKey } from "../core/formats.ts";
