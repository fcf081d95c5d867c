/** @module State: the SQLite database and cross-process locks. The only importer of better-sqlite3. */
export { openDatabase, migrate, listMigrations, ensurePrivateDir, dialectOf, type Db, type DbStatement } from "./db.ts";
export { openShortLock, acquireLifetimeLock, type ShortLock } from "./process-lock.ts";
export { createRunnerStore, type RunnerStore, type CursorRow, type EventRow, type OutboxRow, type ChunkRow } from "./runner-store.ts";
export { createAccessStore, type AccessStore, type AllowlistRow, type PairingRow } from "./access-store.ts";
export { createCommandStore, type CommandStore, type ApprovalRow, type JobRow } from "./command-store.ts";
export { createStore, openStore, type Store } from "./store.ts";
export { type DurabilityMode } from "./durability.ts";
export { restoreDatabase, type BackupResult, type RestoreResult } from "./backup.ts";
export { stateMissingError } from "./db.ts";
export { PostgresError } from "./pg/bridge.ts";
export { OPS_ALERT_ID_PREFIX, type AlertStore, type AlertStateRow, type OpsAlertRow, type UndeliveredAlertRow } from "./alert-store.ts";
export { type IncidentStore, type IncidentRow, type IncidentLogRow, type IncidentStatus } from "./incident-store.ts";
export { type RuntimeEventRow, type ExportDeliveryRow, type TraceRow } from "./inspect-store.ts";
export { type ClaimedRows } from "./outbox-store.ts";
export { type ButtonStore, type ButtonTokenRow, type ButtonAction } from "./button-store.ts";
export { type ActorAliasStore, type ReplyCountStore } from "./tolerance-store.ts";
export { type AuditStore, type AuditRecord } from "./audit-store.ts";
export { type SecretsStore, type StoredSecretInfo } from "./secrets-store.ts";
export { parseSecretsKey, secretsKeyId, writeKeyFile, SECRETS_KEY_ENV_NAME, type SecretsKey } from "./secrets-key.ts";
export { type MediaStore, type MediaRecordRow, type MediaCacheRow } from "./media-store.ts";
export { type CalendarStore, type CalendarObjectRow, type CalendarCollectionRow, type CalendarSyncPlanRow } from "./calendar-store.ts";
export { type ResponderStore, type ResponderJobRow, type HistoryRow, type ResponderCallRow, type UsageRow } from "./responder-store.ts";
export {
  type CommsStore,
  type CommsChannel,
  type ConsentSource,
  type ConsentChange,
  type ConsentCountRow,
  type PreviewStatus,
  type PreviewRow,
  type DeliveryStatus,
  type CommsDeliveryRow,
  type DeliveryPatch,
  type DeliveryFilter,
  type DeliveryCounts,
  type CommsDeadLetterRow,
  type AlertRow,
  type OutboxDeadLetterRow,
} from "./comms-store.ts";
