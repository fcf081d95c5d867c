/** Discord Gateway (WebSocket, `ws` package) for the local Discord server, per PROVIDERS.md §2.2 and §2.5. */
import type http from "node:http";
import crypto from "node:crypto";
import { WebSocketServer, WebSocket } from "ws";

type Json = Record<string, unknown>;

/** Intent bits (§2.2; discord-api-types GatewayIntentBits). */
export const Intents = {
  Guilds: 1 << 0,
  GuildMembers: 1 << 1,
  GuildPresences: 1 << 8,
  GuildMessages: 1 << 9,
  GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11,
  DirectMessages: 1 << 12,
  DirectMessageReactions: 1 << 13,
  DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;
const VALID_INTENTS = ((1 << 17) - 1) | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
const PRIVILEGED_INTENTS = Intents.GuildMembers | Intents.GuildPresences | Intents.MessageContent;

export interface GatewayFrame {
  op: number;
  d: unknown;
  s: number | null;
  t: string | null;
}
export interface GatewaySession {
  sessionId: string;
  seq: number;
  intents: number;
  identify: Json;
  /** Every dispatch of the session, kept for RESUME replay (§2.2 step 8). */
  events: GatewayFrame[];
  ws: WebSocket | null;
}
export interface GatewayCloseRecord {
  code: number;
  reason: string;
  by: "client" | "server";
  sessionId?: string;
}
export interface DiscordGatewayOptions {
  token: string;
  botUser: Json;
  application: Json;
  /** Full guild objects to announce with GUILD_CREATE after READY. */
  guilds: () => Json[];
  heartbeatIntervalMs: number;
  /** What READY advertises as resume_gateway_url (§2.2 step 6). */
  resumeUrl: () => string;
  allowedPrivilegedIntents: number;
  onChange: () => void;
}

type Conn = { ws: WebSocket; session: GatewaySession | null; frames: number; windowStart: number; closedByServer: boolean };

export class DiscordGateway {
  readonly wss: WebSocketServer;
  readonly sessions = new Map<string, GatewaySession>();
  readonly identifies: Json[] = [];
  readonly resumes: Json[] = [];
  readonly closes: GatewayCloseRecord[] = [];
  /** Every frame the clients sent, in order. */
  readonly received: GatewayFrame[] = [];
  heartbeats = 0;
  connectionsOpened = 0;
  ackHeartbeats = true;
  private readonly conns = new Set<Conn>();

  constructor(
    server: http.Server,
    private readonly opts: DiscordGatewayOptions,
  ) {
    this.wss = new WebSocketServer({ server });
    this.wss.on("connection", (ws, req) => this.onConnection(ws, req));
  }

  /** The session of the most recent IDENTIFY. */
  get currentSession(): GatewaySession | undefined {
    return [...this.sessions.values()].at(-1);
  }
  get openConnections(): number {
    return [...this.conns].filter((c) => c.ws.readyState === WebSocket.OPEN).length;
  }

  private send(ws: WebSocket | null, frame: GatewayFrame) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  }

  private close(conn: Conn, code: number, reason: string) {
    conn.closedByServer = true;
    this.closes.push({ code, reason, by: "server", ...(conn.session ? { sessionId: conn.session.sessionId } : {}) });
    if (conn.session?.ws === conn.ws) conn.session.ws = null;
    conn.ws.close(code, reason);
    this.opts.onChange();
  }

  private onConnection(ws: WebSocket, req: http.IncomingMessage) {
    const conn: Conn = { ws, session: null, frames: 0, windowStart: Date.now(), closedByServer: false };
    this.conns.add(conn);
    this.connectionsOpened++;
    ws.on("close", (code, reason) => {
      this.conns.delete(conn);
      if (!conn.closedByServer) {
        this.closes.push({ code, reason: reason.toString(), by: "client", ...(conn.session ? { sessionId: conn.session.sessionId } : {}) });
      }
      if (conn.session?.ws === ws) conn.session.ws = null;
      // §2.2: a client close with 1000/1001 ends the session; other codes keep it resumable.
      if (conn.session && (code === 1000 || code === 1001)) this.sessions.delete(conn.session.sessionId);
      this.opts.onChange();
    });
    ws.on("message", (data) => this.onMessage(conn, data.toString()));
    const q = new URL(req.url ?? "/", "ws://127.0.0.1").searchParams;
    if (q.get("v") !== null && q.get("v") !== "10") return this.close(conn, 4012, "Invalid API version");
    if (q.get("encoding") !== null && q.get("encoding") !== "json") return this.close(conn, 4002, "Error while decoding payload.");
    this.send(ws, { op: 10, d: { heartbeat_interval: this.opts.heartbeatIntervalMs, _trace: ['["tau-fake-gateway"]'] }, s: null, t: null });
    this.opts.onChange();
  }

  private onMessage(conn: Conn, text: string) {
    // §2.2 step 5: payloads ≤ 4096 bytes, 120 events per 60 s per connection.
    const now = Date.now();
    if (now - conn.windowStart > 60_000) {
      conn.windowStart = now;
      conn.frames = 0;
    }
    if (++conn.frames > 120) return this.close(conn, 4008, "Rate limited.");
    if (Buffer.byteLength(text) > 4096) return this.close(conn, 4002, "Error while decoding payload.");
    let frame: GatewayFrame;
    try {
      frame = JSON.parse(text) as GatewayFrame;
    } catch {
      return this.close(conn, 4002, "Error while decoding payload.");
    }
    this.received.push(frame);
    const d = (frame.d ?? {}) as Json;
    switch (frame.op) {
      case 1: // Heartbeat → Heartbeat ACK (§2.2 step 4)
        this.heartbeats++;
        if (this.ackHeartbeats) this.send(conn.ws, { op: 11, d: null, s: null, t: null });
        break;
      case 2:
        this.identify(conn, d);
        break;
      case 6:
        this.resume(conn, d);
        break;
      case 3:
      case 4:
      case 8:
      case 31: // presence, voice state, request members, soundboard: accepted, not modelled
        if (!conn.session) return this.close(conn, 4003, "Not authenticated.");
        break;
      default:
        return this.close(conn, 4001, "Unknown opcode.");
    }
    this.opts.onChange();
  }

  private identify(conn: Conn, d: Json) {
    if (conn.session) return this.close(conn, 4005, "Already authenticated.");
    if (String(d["token"] ?? "").replace(/^Bot\s+/i, "") !== this.opts.token) return this.close(conn, 4004, "Authentication failed.");
    const intents = d["intents"];
    if (typeof intents !== "number" || !Number.isInteger(intents) || (intents & ~VALID_INTENTS) !== 0) {
      return this.close(conn, 4013, "Invalid intent(s).");
    }
    if ((intents & PRIVILEGED_INTENTS & ~this.opts.allowedPrivilegedIntents) !== 0) return this.close(conn, 4014, "Disallowed intent(s).");
    const shard = d["shard"];
    if (Array.isArray(shard) && (shard.length !== 2 || Number(shard[0]) >= Number(shard[1])))
      return this.close(conn, 4010, "Invalid shard.");
    this.identifies.push(d);
    const session: GatewaySession = {
      sessionId: crypto.randomBytes(16).toString("hex"),
      seq: 0,
      intents,
      identify: d,
      events: [],
      ws: conn.ws,
    };
    this.sessions.set(session.sessionId, session);
    conn.session = session;
    const guilds = this.opts.guilds();
    this.emit(session, "READY", {
      v: 10,
      user_settings: {},
      user: this.opts.botUser,
      session_type: "normal",
      session_id: session.sessionId,
      resume_gateway_url: this.opts.resumeUrl(),
      relationships: [],
      private_channels: [],
      presences: [],
      guilds: guilds.map((g) => ({ id: g["id"], unavailable: true })),
      guild_join_requests: [],
      geo_ordered_rtc_regions: [],
      auth: {},
      application: this.opts.application,
      ...(Array.isArray(shard) ? { shard } : {}),
      _trace: ['["tau-fake-gateway"]'],
    });
    // §2.2 step 6 / §2.5: guilds arrive as GUILD_CREATE after READY (GUILDS intent).
    if (intents & Intents.Guilds) for (const g of guilds) this.emit(session, "GUILD_CREATE", g);
  }

  private resume(conn: Conn, d: Json) {
    if (conn.session) return this.close(conn, 4005, "Already authenticated.");
    if (String(d["token"] ?? "").replace(/^Bot\s+/i, "") !== this.opts.token) return this.close(conn, 4004, "Authentication failed.");
    this.resumes.push(d);
    const session = this.sessions.get(String(d["session_id"]));
    if (!session) {
      this.send(conn.ws, { op: 9, d: false, s: null, t: null });
      return;
    }
    const seq = Number(d["seq"] ?? 0);
    if (seq > session.seq) return this.close(conn, 4007, "Invalid seq.");
    if (session.ws && session.ws !== conn.ws && session.ws.readyState === WebSocket.OPEN) session.ws.close(4009, "Session timed out.");
    session.ws = conn.ws;
    conn.session = session;
    // §2.2 step 8: replay what the client missed, then RESUMED.
    for (const ev of session.events) if (ev.s !== null && ev.s > seq) this.send(conn.ws, ev);
    this.emit(session, "RESUMED", { _trace: ['["tau-fake-gateway"]'] });
  }

  private emit(session: GatewaySession, t: string, d: unknown): GatewayFrame {
    const frame: GatewayFrame = { op: 0, t, s: ++session.seq, d };
    session.events.push(frame);
    if (session.events.length > 5000) session.events.shift();
    this.send(session.ws, frame);
    return frame;
  }

  /**
   * Sends a dispatch to every live-or-resumable session whose intents cover it; messages lose their content
   * without MESSAGE_CONTENT unless DM / own / mentioning the bot (§2.2 "Message Content Intent").
   * Returns how many sessions got it (buffered for resume if disconnected).
   */
  dispatch(t: string, d: Json, sessionId?: string): number {
    let n = 0;
    for (const session of this.sessions.values()) {
      if (sessionId && session.sessionId !== sessionId) continue;
      const need = requiredIntent(t, d);
      if (need !== 0 && (session.intents & need) === 0) continue;
      this.emit(session, t, this.redact(t, d, session.intents));
      n++;
    }
    this.opts.onChange();
    return n;
  }

  private redact(t: string, d: Json, intents: number): Json {
    if ((t !== "MESSAGE_CREATE" && t !== "MESSAGE_UPDATE") || intents & Intents.MessageContent) return d;
    const botId = this.opts.botUser["id"];
    const author = d["author"] as Json | undefined;
    const mentions = (d["mentions"] as Json[] | undefined) ?? [];
    if (!d["guild_id"] || author?.["id"] === botId || mentions.some((m) => m["id"] === botId)) return d;
    const out: Json = { ...d, content: "", embeds: [], attachments: [], components: [] };
    delete out["poll"];
    return out;
  }

  /** op 7 RECONNECT: the client reconnects to resume_gateway_url and RESUMEs. */
  requestReconnect() {
    for (const c of this.conns) this.send(c.ws, { op: 7, d: null, s: null, t: null });
  }
  /** op 9 INVALID_SESSION; with resumable=false the session is forgotten (client must IDENTIFY again). */
  invalidateSession(resumable: boolean) {
    for (const c of this.conns) {
      if (!c.session) continue;
      this.send(c.ws, { op: 9, d: resumable, s: null, t: null });
      if (!resumable) {
        this.sessions.delete(c.session.sessionId);
        c.session = null;
      } else c.session = null; // the client answers with RESUME on the same connection
    }
  }
  /** Server op 1: asks the client to heartbeat immediately. */
  requestHeartbeat() {
    for (const c of this.conns) this.send(c.ws, { op: 1, d: null, s: null, t: null });
  }
  /** Closes every live connection with a gateway close code (§2.2 step 10); sessions stay resumable. */
  closeWith(code: number, reason = "") {
    for (const c of [...this.conns]) if (c.ws.readyState === WebSocket.OPEN) this.close(c, code, reason);
  }

  shutdown(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

/** Which intent a dispatch needs (§2.2 Intents); 0 = always sent. */
function requiredIntent(t: string, d: Json): number {
  const guild = d["guild_id"] !== undefined && d["guild_id"] !== null;
  if (t.startsWith("MESSAGE_POLL_VOTE_")) return guild ? 1 << 24 : 1 << 25;
  if (t.startsWith("MESSAGE_REACTION_")) return guild ? Intents.GuildMessageReactions : Intents.DirectMessageReactions;
  if (t.startsWith("MESSAGE_")) return guild ? Intents.GuildMessages : Intents.DirectMessages;
  if (t === "TYPING_START") return guild ? Intents.GuildMessageTyping : Intents.DirectMessageTyping;
  if (t.startsWith("GUILD_MEMBER_")) return Intents.GuildMembers;
  if (t === "PRESENCE_UPDATE") return Intents.GuildPresences;
  if (/^(GUILD_(CREATE|UPDATE|DELETE|ROLE_)|CHANNEL_|THREAD_)/.test(t)) return Intents.Guilds;
  return 0;
}
