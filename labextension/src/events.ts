/**
 * The event schema, mirrored from `chatml_lab/events.py` (the one definition every UI reads).
 *
 * `tests/server/test_server_schema.py` checks that the types, their required keys and the schema
 * version here match the Python module: change both together.
 */

export const SCHEMA_VERSION = 1;

export const REQUIRED = {
  user_message: ['text'],
  assistant_delta: ['text'],
  assistant_text: ['text'],
  thinking: ['text'],
  tool_start: ['id', 'tool', 'input'],
  tool_end: ['id', 'ok', 'output'],
  approval_request: ['id', 'tool', 'input'],
  approval_response: ['id', 'approved'],
  result: ['usage', 'cost_usd', 'duration_ms'],
  error: ['message'],
  state: ['agent_state'],
  setup_output: ['script', 'output', 'exit_code'],
  name_suggestion: ['name'],
  archive_summary: ['summary', 'source'],
  notice: ['message'],
  pr_update: ['pr_status', 'pr_number', 'pr_url', 'checks', 'changes']
} as const;

/** Every kind of event a conversation log can hold. */
export type EventType = keyof typeof REQUIRED;

export const EVENT_TYPES = Object.keys(REQUIRED) as EventType[];

/** One entry of a conversation's event log, as the server sends it. */
export interface ChatEvent {
  seq: number;
  conversation_id: string;
  type: EventType;
  data: { [key: string]: any };
  created_at: number;
  session?: string;
}
