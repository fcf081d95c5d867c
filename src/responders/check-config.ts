/**
 * @module Is every responder usable? Tools name registered capabilities, keys are present where a call will be made,
 * and every route binding names a responder that exists. One `key:code` check per finding (`tau preflight`, startup,
 * `/tau doctor`), each naming the YAML path to fix; a misconfigured responder fails closed before the first message.
 */
import type { TauConfig } from "../config/index.ts";
import { apiKeySecretOf, BUILTIN_RESPONDERS } from "../config/index.ts";
import type { RouteBinding } from "../contracts/policy.ts";

export interface ResponderCheck {
  key: string;
  code: string;
  ok: boolean;
  detail?: string;
}

export function checkResponders(
  config: TauConfig,
  facts: { hasCapability(id: string): boolean; secret(id: string): string | null; bindings: readonly RouteBinding[] | null },
): ResponderCheck[] {
  const checks: ResponderCheck[] = [];
  const callsModels = config.outbound.mode !== "dry-run";
  for (const [name, r] of Object.entries(config.responders)) {
    const key = `responder.${name}`;
    const problems: ResponderCheck[] = [];
    if (r.kind === "llm") {
      r.tools.forEach((id, i) => {
        if (!facts.hasCapability(id))
          problems.push({
            key,
            code: "responder_tool_unknown",
            ok: false,
            detail: `tau.yaml responders.${name}.tools[${i}]: no capability "${id}" (see tau cap list)`,
          });
      });
      const secret = apiKeySecretOf(r);
      if (callsModels && !facts.secret(secret))
        problems.push({
          key,
          code: "responder_key_missing",
          ok: false,
          detail: `tau.yaml responders.${name}.api_key_secret: "${secret}" is not set (tau secrets set ${secret}, or env TAU_${r.provider.toUpperCase()}_API_KEY)`,
        });
    } else if (callsModels && !facts.secret(r.signing_secret))
      problems.push({
        key,
        code: "responder_key_missing",
        ok: false,
        detail: `tau.yaml responders.${name}.signing_secret: "${r.signing_secret}" is not set (tau secrets set ${r.signing_secret})`,
      });
    checks.push(
      ...(problems.length ? problems : [{ key, code: "ready", ok: true, detail: r.kind === "llm" ? `${r.provider} ${r.model}` : r.url }]),
    );
  }
  const known = (n: string) => (BUILTIN_RESPONDERS as readonly string[]).includes(n) || Object.hasOwn(config.responders, n);
  (facts.bindings ?? []).forEach((b, i) => {
    if (!known(b.responder))
      checks.push({
        key: `responder.binding.${b.binding_id}`,
        code: "responder_unknown",
        ok: false,
        detail: `route-bindings.yaml bindings[${i}].responder: "${b.responder}" is neither built in (ack, none, forward) nor under responders in tau.yaml`,
      });
  });
  return checks;
}
