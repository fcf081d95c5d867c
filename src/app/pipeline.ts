/** @module The full decision pipeline (PRODUCT.md §5): the concrete stages in their order. */
import { buildPipeline } from "../router/pipeline.ts";
import { createDedupeStage } from "../router/stages/dedupe.ts";
import { createSelfBotFilterStage } from "../router/stages/self-bot-filter.ts";
import { createEventKindStage } from "../router/stages/event-kind.ts";
import { createChannelPolicyStage } from "../router/stages/channel-policy.ts";
import { createAccessStage } from "../router/stages/access.ts";
import { createRouteStage } from "../router/stages/route.ts";
import { createCommandStage } from "../router/stages/command.ts";
import { createCallbackStage } from "../router/stages/callback.ts";
import { aliasKeysOf, withActorAliases } from "../router/stages/actor-alias.ts";
import { createEmailReplyLimitStage } from "../router/stages/email-reply-limit.ts";
import { compose } from "../router/compose.ts";
import type { EventContext } from "../contracts/event-context.ts";
import type { Services } from "../capabilities/services.ts";
import { parseTauCommand } from "../commands/parse-command.ts";
import { createReceiptRecorder } from "../outbound/receipts.ts";
import { createTransportGateStage } from "../router/stages/transport-gate.ts";
import { createRespondersGateStage } from "../router/stages/responders-gate.ts";
import { createOperationalGate, type OperationalGate } from "../capabilities/killswitch/index.ts";
import { createResponderStage } from "../router/stages/responder.ts";
import { builtinResponders } from "../responders/index.ts";

/** The full decision pipeline (PRODUCT.md §5) over the given services. */
export function createDecisionPipeline(
  services: Services,
  seen: (eventId: string) => boolean,
  gate?: OperationalGate,
): (ctx: EventContext) => void {
  const { config, store } = services;
  const opGate = gate ?? createOperationalGate(services.store, services.clock);
  const policies = () => services.policies.current();
  const prefix = config.commands.prefix;
  const botUsername = (t: string) => (t === "telegram" ? config.identity.telegram.username || null : null);
  const isCommand = (text: string) => parseTauCommand(text, { prefix, botUsername: null }).kind !== "none";
  const asyncResponders = new Set(Object.keys(config.responders));
  const responder = createResponderStage({
    responders: builtinResponders(),
    asyncResponders,
    coalesceWindowMs: config.runner.coalesce_window_ms,
    lastResponderAt: (k) => store.runner.lastResponderAt(k),
    markResponder: (k, at) => store.runner.putResponderAt(k, at),
    identity: config.identity,
  });
  const command = createCommandStage({
    prefix,
    botUsername,
    registry: services.registry,
    policies,
    store: services.store,
    audit: services.audit,
    footer: config.outbound.footer,
    randomBytes: services.randomBytes,
    services,
  });
  // Button presses are answered before the non-message kinds are set aside.
  const callback = createCallbackStage({
    buttons: store.buttons,
    access: services.store.access,
    policies,
    registry: services.registry,
    prefix,
    audit: services.audit,
  });
  return buildPipeline({
    dedupe: createDedupeStage(seen),
    selfBot: createSelfBotFilterStage(config.identity, new Set()),
    gate: createTransportGateStage((t) => opGate.transportBlock(t)),
    // Id changes (WhatsApp BSUID/phone) are recorded first; then button presses, then the non-message kinds.
    kind: withActorAliases(store.actorAliases, callback, createEventKindStage(createReceiptRecorder(store))),
    policy: [
      createChannelPolicyStage(policies),
      createAccessStage({
        policies,
        access: services.store.access,
        randomBytes: services.randomBytes,
        audit: services.audit,
        commandPrefix: prefix,
        opsChats: () => config.alerts.targets.map((t) => ({ ...t, reply_to: null })),
        buttons: store.buttons,
        aliasesOf: (env) => aliasKeysOf(env, store.actorAliases),
      }),
      createEmailReplyLimitStage({ policies, repliesSince: (t, c, since) => store.replyCounts.since(t, c, since) }),
    ],
    route: createRouteStage(policies, isCommand, config.default_responder),
    dispatch: compose<EventContext>([
      command,
      createRespondersGateStage(
        () => opGate.respondersSilenced(),
        (name) => asyncResponders.has(name),
      ),
      responder,
    ]),
  });
}
