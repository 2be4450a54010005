/* Generated from schemas/preset.schema.json by scripts/gen-types.mjs. Do not edit. */

/**
 * A vendor API call packaged for workflows: typed inputs with constraints, the HTTP request, how success is read and which outputs are extracted.
 */
export interface PresetFile {
/**
 * Preset format version. Only 1 exists.
 */
version: 1
/**
 * Preset id used in `preset:`: vendor.action.
 */
id: string
/**
 * Short human title, as GUI tools show it (e.g. Activate User).
 */
title: string
/**
 * What the call does.
 */
description: string
/**
 * Vendor documentation URL.
 */
docs?: string
/**
 * Which API account roles may make this call, and on whom.
 */
permissions?: string
/**
 * The parameters a step passes in `params:`, by name.
 */
inputs: {
[k: string]: Input
}
/**
 * Rules between inputs, checked on literals at validate time and on rendered values before any request is sent.
 */
constraints?: Constraint[]
request: Request
/**
 * How to find out whether a non-idempotent call whose outcome is in doubt (the runner died mid-call, or the connection dropped after sending) took effect: look the object up with a list preset instead of sending again.
 */
reconcile?: {
/**
 * A list preset (one with items), e.g. qualys.list_users.
 */
preset: string
/**
 * Which listed item is the one this call would have made: the item whose field `item` equals this call's input `input` (case-insensitive).
 */
match: {
/**
 * Input of this preset whose value identifies the object (e.g. email).
 */
input: string
/**
 * Item field of the list preset to compare it with (e.g. email).
 */
item: string
}
/**
 * Outputs of this preset filled from the found item: output name -> item field (e.g. login: login).
 */
outputs: {
[k: string]: string
}
}
}
/**
 * One preset input.
 */
export interface Input {
/**
 * string, integer or boolean. Booleans accept true/false (and 1/0) and go on the wire as the preset's `wire_true` / `wire_false` (default 1 / 0).
 */
type: ("string" | "integer" | "boolean")
/**
 * What the input means, for docs and editor help.
 */
description: string
/**
 * The step must pass this input.
 */
required?: boolean
/**
 * The only values allowed.
 * 
 * @minItems 1
 */
enum?: [string, ...(string)[]]
/**
 * Longest value allowed, in characters.
 */
maxLength?: number
/**
 * Shortest value allowed, in characters.
 */
minLength?: number
/**
 * Regular expression the whole value must match.
 */
pattern?: string
/**
 * Says in words what `pattern` allows (shown in errors).
 */
pattern_hint?: string
/**
 * A well-known format checked on values: email.
 */
format?: "email"
/**
 * The value is a comma-separated list; constraints apply to each item.
 */
list?: boolean
/**
 * An empty string is allowed (it clears the value, e.g. on edit).
 */
allow_empty?: boolean
/**
 * Parameter name on the wire, when it differs from the input name.
 */
wire?: string
/**
 * Wire value of a true boolean (default "1").
 */
wire_true?: string
/**
 * Wire value of a false boolean (default "0").
 */
wire_false?: string
/**
 * The value is secret: redacted in plans and run history.
 */
sensitive?: boolean
}
/**
 * A conditional rule between inputs: `when` an input matches, `require` / `forbid` other inputs or restrict them to `allow` lists; or `exclusive` inputs.
 */
export interface Constraint {
/**
 * Condition on one input: { INPUT: { equals: V } } or { INPUT: { in: [V, ...] } }.
 */
when?: {
[k: string]: {
/**
 * The input equals this value.
 */
equals?: (string | boolean | number)
/**
 * The input is one of these values.
 */
in?: string[]
/**
 * The input is given (true) or not (false).
 */
present?: boolean
}
}
/**
 * Inputs that must then be given.
 */
require?: string[]
/**
 * Inputs that must then be absent.
 */
forbid?: string[]
/**
 * Inputs restricted to these values when the condition holds.
 */
allow?: {
[k: string]: string[]
}
/**
 * At most one of these inputs may be given.
 * 
 * @minItems 2
 */
exclusive?: [string, string, ...(string)[]]
/**
 * Why the rule exists, appended to errors.
 */
message?: string
}
/**
 * The HTTP call. Templates may use {{inputs.NAME}} (presets), record fields (inline requests) and {{vars.NAME}}.
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
