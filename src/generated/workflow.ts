/* Generated from schemas/workflow.schema.json by scripts/gen-types.mjs. Do not edit. */

/**
 * One workflow: a trigger on an object, optional rules that select records, and the steps (preset API calls) run for each selected record, or an import.
 */
export interface WorkflowFile {
/**
 * Workflow format version. Only 1 exists.
 */
version: 1
/**
 * Unique name in the workflow directory: lowercase letters, digits and dashes, starting with a letter or digit.
 */
name: string
/**
 * What the workflow does and why (shown in plans and the API).
 */
description?: string
/**
 * false keeps the workflow in Git without running it. Default true.
 */
enabled?: boolean
/**
 * The record type the workflow acts on: `users` (built in) or an object declared in skein.yaml.
 */
object: string
trigger: Trigger
rules?: Rule
/**
 * Calls made for each matching record, in order.
 * 
 * @minItems 1
 */
steps?: [Step, ...(Step)[]]
import?: Import
}
/**
 * When the workflow runs.
 */
export interface Trigger {
/**
 * Events that start the workflow: created, updated, deleted (record events), schedule (needs `schedule`), manual (API or CLI only).
 * 
 * @minItems 1
 */
on: [("created" | "updated" | "deleted" | "schedule" | "manual"), ...(("created" | "updated" | "deleted" | "schedule" | "manual"))[]]
/**
 * Cron pattern (croner syntax: 5 fields, or 6 with seconds first), required exactly when `on` has schedule. Example: "0 6 * * 1-5".
 */
schedule?: string
/**
 * IANA time zone for the schedule, e.g. Europe/Berlin. Default UTC.
 */
timezone?: string
/**
 * What a schedule tick does while the previous scheduled run still runs: skip (default) or queue.
 */
overlap?: ("skip" | "queue")
/**
 * Ticks missed while no runner was up: none (default), last (run once), all (run each, oldest first).
 */
catch_up?: ("none" | "last" | "all")
/**
 * Only ticks missed within this window are caught up (e.g. 24h). Default 24h.
 */
catch_up_window?: string
}
/**
 * Which records the workflow acts on: a tree of all / any / not over field tests. No rules: every record.
 */
export interface Rule {

}
/**
 * One API call per matching record.
 */
export interface Step {
/**
 * Unique in the workflow: lowercase letters, digits and underscores, starting with a letter. Later steps use {{steps.ID.outputs.NAME}}.
 */
id: string
/**
 * Human label for plans and run history.
 */
name?: string
/**
 * A preset id, e.g. qualys.activate_user (see docs/presets/). Either `preset` or `request`.
 */
preset?: string
request?: Request
/**
 * Name of a credential declared in skein.yaml.
 */
credentials?: string
/**
 * Preset inputs: literals or Handlebars templates over the record ({{first_name}}), {{vars.NAME}} and earlier steps' outputs.
 */
params?: {
/**
 * A literal or a Handlebars template.
 */
[k: string]: (string | number | boolean)
}
/**
 * Record field <- template, applied in one transaction when the step succeeds. Templates may use {{response}}, {{response.PATH}}, {{response_status}}, {{response_headers.NAME}}, {{outputs.NAME}}.
 */
response?: {
/**
 * A Handlebars template.
 */
[k: string]: string
}
/**
 * Record field <- template, applied when the step fails (e.g. to store the Qualys error message). Templates may also use {{error.message}} and {{error.code}}: why the step failed.
 */
error_response?: {
/**
 * A Handlebars template.
 */
[k: string]: string
}
/**
 * stop (default): a failed step stops this record's run; continue: go on with the next step.
 */
on_error?: ("stop" | "continue")
when?: Rule1
retry?: Retry
/**
 * Time limit for one attempt, e.g. 30s (default 30s).
 */
timeout?: string
}
/**
 * An inline HTTP request with a preset's request shape, for calls no preset covers. Either `preset` or `request`.
 */
export interface Request {
/**
 * HTTP method.
 */
method: ("GET" | "POST" | "PUT" | "PATCH" | "DELETE")
/**
 * URL template, usually built from a variable: {{vars.qualys_api_url}}/msp/user.php.
 */
url: string
query?: TemplateMap
form?: TemplateMap1
headers?: TemplateMap2
/**
 * A raw body template (for JSON APIs); not with `form`.
 */
body?: string
/**
 * Where the preset's given inputs go: query string (default for GET) or form body (default for every other method).
 */
inputs_in?: ("form" | "query")
/**
 * Sending the call twice has the same effect as once. Non-idempotent calls are never re-sent after they may have reached the server (except after a 409 limit block).
 */
idempotent?: boolean
/**
 * Rate-limit bucket (Qualys limits are per API script, e.g. user.php). Defaults to the last segment of the URL path.
 */
script?: string
/**
 * Largest response body read and parsed, in bytes (default 5 MiB). A larger answer fails the step with body-too-large. List presets raise it: a Qualys user list is one response of about 2 KB per user.
 */
max_response_bytes?: number
response?: Response
/**
 * Values extracted from the parsed response, usable as {{outputs.NAME}} and {{steps.ID.outputs.NAME}}.
 */
outputs?: {
[k: string]: Output
}
items?: Items
}
/**
 * Query parameters (name -> template), sent URL-encoded.
 */
export interface TemplateMap {
[k: string]: (string | number | boolean)
}
/**
 * application/x-www-form-urlencoded body parameters (name -> template).
 */
export interface TemplateMap1 {
[k: string]: (string | number | boolean)
}
/**
 * Extra request headers (name -> template). X-Requested-With is always sent.
 */
export interface TemplateMap2 {
[k: string]: (string | number | boolean)
}
/**
 * How to read the answer.
 */
export interface Response {
/**
 * Body format: xml, json or text.
 */
format?: ("xml" | "json" | "text")
/**
 * The call succeeded when every listed check holds (besides a 2xx status).
 */
success?: Check[]
/**
 * Paths tried in order for the vendor error code.
 */
error_code?: string[]
/**
 * Paths tried in order for the vendor error message.
 */
error_message?: string[]
/**
 * Element or key names whose values are replaced by [REDACTED] in {{response}} and run history.
 */
redact?: string[]
}
/**
 * A check on the parsed body: `path` (dot path, @attr for XML attributes) with `equals`, `in`, `not_in` or `exists` (false: the path must be absent).
 */
export interface Check {
/**
 * Dot path into the parsed body, e.g. USER_OUTPUT.RETURN.@status.
 */
path: string
/**
 * The value equals this string.
 */
equals?: string
/**
 * The value is one of these strings.
 */
in?: string[]
/**
 * The value is none of these strings; an absent path passes (e.g. a RETURN status that may be missing but must not be FAILED).
 */
not_in?: string[]
/**
 * The path exists (true) or not (false).
 */
exists?: boolean
}
/**
 * One extracted value.
 */
export interface Output {
/**
 * Dot path into the parsed body.
 */
path: string
/**
 * What the value is.
 */
description: string
/**
 * A secret (e.g. a password): it may only be mapped into a field declared sensitive.
 */
sensitive?: boolean
/**
 * Trim surrounding whitespace (default true).
 */
trim?: boolean
}
/**
 * For list calls: where the list is and the fields of each item, usable as {{item.NAME}} in import mappings.
 */
export interface Items {
/**
 * Dot path of the repeated element.
 */
path: string
/**
 * Item field name -> dot path inside one item.
 */
fields: {
[k: string]: string
}
/**
 * Item fields that are secrets.
 */
sensitive?: string[]
}
/**
 * Run this step only when the rule holds on the record (as updated by earlier steps).
 */
export interface Rule1 {

}
/**
 * Retries on network errors, 5xx and 409 limit blocks (non-idempotent calls only after a 409).
 */
export interface Retry {
/**
 * Total attempts including the first (default 4; 1 disables retries).
 */
attempts?: number
/**
 * First wait, doubled each retry with jitter (default 500ms).
 */
backoff?: string
/**
 * Longest wait between attempts (default 60s).
 */
max_backoff?: string
}
/**
 * Instead of steps: list users from a vendor (a list preset) and create or update records from them.
 */
export interface Import {
/**
 * A list preset, e.g. qualys.list_users.
 */
preset: string
/**
 * Name of a credential declared in skein.yaml.
 */
credentials?: string
/**
 * Preset inputs (filters).
 */
params?: {
[k: string]: (string | number | boolean)
}
/**
 * Ordered sync keys: record fields tried in turn to find the record of a listed item (e.g. [qualys_login, email]). Each must be mapped in `fields`.
 * 
 * @minItems 1
 */
match: [string, ...(string)[]]
/**
 * Record field <- template over the listed item ({{item.login}}, {{item.email}}, ...) and {{vars.NAME}}.
 */
fields: {
/**
 * A Handlebars template.
 */
[k: string]: string
}
/**
 * Create a record for an item no record matches (default true). The object's key field must then be mapped.
 */
create?: boolean
/**
 * Flag records imported earlier whose vendor user is no longer listed (they are never deleted).
 */
vanished?: {
/**
 * Field to set on such records.
 */
field: string
/**
 * Value to set.
 */
value: string
}
}
