/**
 * @module The app's `TokenSeal`: provider credentials that travel through state (Discord interaction tokens) sealed
 * with the integration store's key (TAU_SECRETS_KEY, else `state/secrets.key`) — the same key on every node of a
 * cluster, so a token sealed by one node's connector opens in another node's sender.
 */
import type { TokenSeal } from "../contracts/token-seal.ts";
import type { App } from "./open-app.ts";

export function tokenSealOf(app: App): TokenSeal {
  return {
    seal: (token) => app.store.secrets.sealToken(token),
    open: (value) => app.store.secrets.openToken(value),
  };
}
