/**
 * The SQL verb vocabulary and its mapping to the cross-protocol operation
 * class (`op.class`).
 *
 * Two tables live here, both exported so that documentation, the policy core
 * and tests read the same source of truth:
 *
 * - {@link STATEMENT_VERBS}: every statement node the Postgres parser
 *   (libpg-query 18) can put in a `RawStmt`, mapped to the lower-case verb a
 *   rule author writes (`sql.verb == 'drop'`). A few nodes carry their verb in
 *   a field (GRANT vs REVOKE, SET vs RESET, BEGIN vs COMMIT, VACUUM vs
 *   ANALYZE, FETCH vs MOVE, SELECT vs VALUES vs TABLE); the table gives the
 *   default and {@link verbForStatementNode} callers refine it.
 * - {@link VERB_OP_CLASS}: verb → op.class. Classes are ordered by severity
 *   (read < write < delete < admin < exec); a statement involving several
 *   verbs gets the most severe class among them.
 *
 * Principles behind the classes (see docs/sql-analysis.md):
 * - read: changes no stored data and no privileges — queries, inspection,
 *   cursors over queries, transaction control (it only commits or discards
 *   what was already gated statement by statement) and session-local settings.
 * - write: adds or changes rows, or signals other sessions (NOTIFY).
 * - delete: removes rows or whole objects (DELETE, TRUNCATE, DROP).
 * - admin: changes schema, privileges, ownership, server state or physical
 *   storage, or takes explicit locks.
 * - exec: runs code or statements the gateway cannot see (DO, CALL, LOAD,
 *   EXECUTE of a prepared statement, COPY ... PROGRAM).
 */
import type { OpClass } from "../action.js";

/** Severity order of op classes, least severe first. */
export const OP_CLASS_ORDER: readonly OpClass[] = ["read", "write", "delete", "admin", "exec"];

/** Rank of each class in {@link OP_CLASS_ORDER} (higher is more severe). */
export const OP_CLASS_RANK: Readonly<Record<OpClass, number>> = {
  read: 0,
  write: 1,
  delete: 2,
  admin: 3,
  exec: 4,
};

/**
 * Verb → op.class. Verbs whose class depends on the statement (COPY, SET,
 * EXPLAIN, PREPARE, DECLARE) list their baseline here; the refinements are in
 * {@link OP_CLASS_REFINEMENTS}. A verb not in this table (from a statement
 * node this build does not know) is classed `admin`.
 */
export const VERB_OP_CLASS: Readonly<Record<string, OpClass>> = {
  // read
  select: "read",
  values: "read",
  table: "read",
  show: "read",
  explain: "read",
  declare: "read",
  fetch: "read",
  move: "read",
  close: "read",
  begin: "read",
  commit: "read",
  rollback: "read",
  savepoint: "read",
  release: "read",
  "prepare transaction": "read",
  set: "read",
  reset: "read",
  discard: "read",
  listen: "read",
  unlisten: "read",
  prepare: "read",
  deallocate: "read",
  return: "read",
  assign: "read",
  // write
  insert: "write",
  update: "write",
  merge: "write",
  copy: "write",
  notify: "write",
  // delete
  delete: "delete",
  truncate: "delete",
  drop: "delete",
  // admin
  create: "admin",
  alter: "admin",
  grant: "admin",
  revoke: "admin",
  comment: "admin",
  "security label": "admin",
  vacuum: "admin",
  analyze: "admin",
  reindex: "admin",
  cluster: "admin",
  refresh: "admin",
  lock: "admin",
  checkpoint: "admin",
  import: "admin",
  reassign: "admin",
  "commit prepared": "admin",
  "rollback prepared": "admin",
  // exec
  do: "exec",
  call: "exec",
  load: "exec",
  execute: "exec",
};

/**
 * Where a verb's class is decided by the statement rather than by
 * {@link VERB_OP_CLASS}. Kept as data so docs and tooling can print it.
 */
export const OP_CLASS_REFINEMENTS: readonly { verb: string; when: string; opClass: OpClass }[] = [
  { verb: "copy", when: "COPY ... TO STDOUT", opClass: "read" },
  { verb: "copy", when: "COPY ... FROM STDIN / FROM 'server file'", opClass: "write" },
  { verb: "copy", when: "COPY ... TO 'server file' (writes the server's filesystem)", opClass: "admin" },
  { verb: "copy", when: "COPY ... TO PROGRAM / FROM PROGRAM (runs a shell command)", opClass: "exec" },
  { verb: "set", when: "SET ROLE / SET SESSION AUTHORIZATION / SET session_replication_role", opClass: "admin" },
  { verb: "explain", when: "EXPLAIN ANALYZE runs the statement: its verbs count", opClass: "read" },
  { verb: "prepare", when: "PREPARE p AS <stmt>: the inner statement's verbs count", opClass: "read" },
  { verb: "declare", when: "DECLARE c CURSOR FOR <query>: the query's verbs count", opClass: "read" },
];

/**
 * Tie-break inside one class when picking the statement's effective verb
 * (e.g. a data-modifying CTE): delete > update = merge > insert, drop >
 * truncate > delete. PREPARE ranks below everything so `PREPARE p AS <stmt>`
 * takes the inner statement's verb. Verbs not listed rank 0.
 */
export const VERB_SEVERITY: Readonly<Record<string, number>> = {
  drop: 3,
  truncate: 2,
  delete: 1,
  update: 2,
  merge: 2,
  insert: 1,
  prepare: -1,
};

/**
 * Statement node (as named in the parser's JSON output) → default verb.
 * Covers every `*Stmt` node of libpg-query 18 (PostgreSQL 18 grammar).
 */
export const STATEMENT_VERBS: Readonly<Record<string, string>> = {
  // queries and DML
  SelectStmt: "select", // or "values" / "table" by shape; "create" added for SELECT INTO
  SetOperationStmt: "select",
  InsertStmt: "insert",
  UpdateStmt: "update",
  DeleteStmt: "delete",
  MergeStmt: "merge",
  ReturnStmt: "return",
  PLAssignStmt: "assign",
  CopyStmt: "copy",
  // utility: reads, cursors, session
  VariableShowStmt: "show",
  ExplainStmt: "explain",
  DeclareCursorStmt: "declare",
  FetchStmt: "fetch", // "move" when ismove
  ClosePortalStmt: "close",
  TransactionStmt: "begin", // by kind, see transactionVerb
  VariableSetStmt: "set", // "reset" for RESET
  ConstraintsSetStmt: "set",
  DiscardStmt: "discard",
  ListenStmt: "listen",
  UnlistenStmt: "unlisten",
  NotifyStmt: "notify",
  PrepareStmt: "prepare",
  ExecuteStmt: "execute",
  DeallocateStmt: "deallocate",
  DoStmt: "do",
  CallStmt: "call",
  LoadStmt: "load",
  // removal
  TruncateStmt: "truncate",
  DropStmt: "drop",
  DropTableSpaceStmt: "drop",
  DropUserMappingStmt: "drop",
  DropRoleStmt: "drop",
  DropdbStmt: "drop",
  DropSubscriptionStmt: "drop",
  DropOwnedStmt: "drop",
  // privileges
  GrantStmt: "grant", // "revoke" when !is_grant
  GrantRoleStmt: "grant", // "revoke" when !is_grant
  AlterDefaultPrivilegesStmt: "alter",
  ReassignOwnedStmt: "reassign",
  // maintenance and server state
  VacuumStmt: "vacuum", // "analyze" when !is_vacuumcmd
  ClusterStmt: "cluster",
  ReindexStmt: "reindex",
  RefreshMatViewStmt: "refresh",
  LockStmt: "lock",
  CheckPointStmt: "checkpoint",
  CommentStmt: "comment",
  SecLabelStmt: "security label",
  ImportForeignSchemaStmt: "import",
  AlterSystemStmt: "alter",
  // CREATE ...
  CreateStmt: "create",
  CreateTableAsStmt: "create",
  CreateSchemaStmt: "create",
  CreateTableSpaceStmt: "create",
  CreateExtensionStmt: "create",
  CreateFdwStmt: "create",
  CreateForeignServerStmt: "create",
  CreateForeignTableStmt: "create",
  CreateUserMappingStmt: "create",
  CreatePolicyStmt: "create",
  CreateAmStmt: "create",
  CreateTrigStmt: "create",
  CreateEventTrigStmt: "create",
  CreatePLangStmt: "create",
  CreateRoleStmt: "create",
  CreateSeqStmt: "create",
  CreateDomainStmt: "create",
  CreateOpClassStmt: "create",
  CreateOpFamilyStmt: "create",
  CreateStatsStmt: "create",
  CreateFunctionStmt: "create",
  CreateEnumStmt: "create",
  CreateRangeStmt: "create",
  CreatedbStmt: "create",
  CreateConversionStmt: "create",
  CreateCastStmt: "create",
  CreateTransformStmt: "create",
  CreatePublicationStmt: "create",
  CreateSubscriptionStmt: "create",
  DefineStmt: "create",
  IndexStmt: "create",
  ViewStmt: "create",
  RuleStmt: "create",
  CompositeTypeStmt: "create",
  // ALTER ...
  AlterTableStmt: "alter",
  ReplicaIdentityStmt: "alter",
  AlterCollationStmt: "alter",
  AlterDomainStmt: "alter",
  AlterTableSpaceOptionsStmt: "alter",
  AlterTableMoveAllStmt: "alter",
  AlterExtensionStmt: "alter",
  AlterExtensionContentsStmt: "alter",
  AlterFdwStmt: "alter",
  AlterForeignServerStmt: "alter",
  AlterUserMappingStmt: "alter",
  AlterPolicyStmt: "alter",
  AlterEventTrigStmt: "alter",
  AlterRoleStmt: "alter",
  AlterRoleSetStmt: "alter",
  AlterSeqStmt: "alter",
  AlterOpFamilyStmt: "alter",
  AlterStatsStmt: "alter",
  AlterFunctionStmt: "alter",
  RenameStmt: "alter",
  AlterObjectDependsStmt: "alter",
  AlterObjectSchemaStmt: "alter",
  AlterOwnerStmt: "alter",
  AlterOperatorStmt: "alter",
  AlterTypeStmt: "alter",
  AlterEnumStmt: "alter",
  AlterDatabaseStmt: "alter",
  AlterDatabaseRefreshCollStmt: "alter",
  AlterDatabaseSetStmt: "alter",
  AlterTSDictionaryStmt: "alter",
  AlterTSConfigurationStmt: "alter",
  AlterPublicationStmt: "alter",
  AlterSubscriptionStmt: "alter",
};

/** TransactionStmt.kind → verb. START TRANSACTION is spelled "begin" (same meaning). */
export const TRANSACTION_VERBS: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: "begin",
  TRANS_STMT_START: "begin",
  TRANS_STMT_COMMIT: "commit",
  TRANS_STMT_ROLLBACK: "rollback",
  TRANS_STMT_SAVEPOINT: "savepoint",
  TRANS_STMT_RELEASE: "release",
  TRANS_STMT_ROLLBACK_TO: "rollback",
  TRANS_STMT_PREPARE: "prepare transaction",
  TRANS_STMT_COMMIT_PREPARED: "commit prepared",
  TRANS_STMT_ROLLBACK_PREPARED: "rollback prepared",
};

/**
 * Session settings whose change alters privileges or disables integrity
 * machinery; `SET` of one of these is `admin`, not a harmless session tweak.
 */
export const PRIVILEGED_SETTINGS: ReadonlySet<string> = new Set([
  "role",
  "session_authorization",
  "session_replication_role",
]);

/** Class of a verb: the table's entry, `admin` for verbs it does not know. */
export function opClassOfVerb(verb: string): OpClass {
  return VERB_OP_CLASS[verb] ?? "admin";
}

/**
 * Default verb and class for a statement node name. Unknown node names (a
 * parser newer than this table) get a verb derived from the name's first word
 * (`CreateFooStmt` → `create`, `FrobnicateStmt` → `frobnicate`) and at least
 * class `admin`, so an unfamiliar statement is never treated as a read.
 */
export function verbForStatementNode(name: string): { verb: string; opClass: OpClass; known: boolean } {
  const known = STATEMENT_VERBS[name];
  if (known !== undefined) return { verb: known, opClass: opClassOfVerb(known), known: true };
  const base = name.endsWith("Stmt") ? name.slice(0, -4) : name;
  const m = /^[A-Z]?[a-z]+/.exec(base);
  const verb = (m ? m[0] : base).toLowerCase() || "unknown";
  const tableClass = VERB_OP_CLASS[verb];
  const opClass = tableClass !== undefined && OP_CLASS_RANK[tableClass] > OP_CLASS_RANK.admin ? tableClass : "admin";
  return { verb, opClass, known: false };
}
