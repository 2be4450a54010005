/* Generated from schemas/test.schema.json by scripts/gen-types.mjs. Do not edit. */

/**
 * A text, number or boolean value; compared by its text form.
 */
export type Scalar = (string | number | boolean)
/**
 * An expected value: a text, number or boolean compared by its text form, or { contains: TEXT } for part of a longer text.
 */
export type Expected = (Scalar | {
/**
 * Text the actual value must contain.
 */
contains: string
})

/**
 * Offline tests of one workflow (a *.test.yaml file): each case stores a record, fires an event, answers the workflow's calls with canned responses and checks what the engine did.
 */
export interface TestFile {
/**
 * Test file format version. Only 1 exists.
 */
version: 1
/**
 * The name: of the workflow under test, in the same workflow directory.
 */
workflow: string
/**
 * What these tests cover.
 */
description?: string
/**
 * The test cases, run in order, each against a fresh temporary store.
 * 
 * @minItems 1
 */
cases: [Case, ...(Case)[]]
}
/**
 * One test case: the situation (event, records, responses) and what must happen.
 */
export interface Case {
/**
 * Unique name of the case within the file; shown in results.
 */
name: string
/**
 * Why the case exists.
 */
description?: string
event: Event
/**
 * Other records in the store before the event (fixtures); each holds its key field.
 */
records?: Fields3[]
/**
 * Overrides of skein.yaml variables for this case.
 */
vars?: {
[k: string]: Scalar
}
/**
 * The current time for date rules (ISO 8601 date-time). Default the real time.
 */
now?: string
/**
 * Canned answers by step id (import workflows: list). A step without one gets HTTP 501 from the test double.
 */
responses?: {
[k: string]: Response
}
expect: Expect
}
/**
 * What starts the workflow. created, schedule and manual take record; updated takes before and after; deleted takes record (its last values).
 */
export interface Event {
/**
 * The trigger: a record event (created, updated, deleted), a schedule tick or a manual run. An event kind the workflow's trigger.on does not list means the workflow does not run.
 */
kind: ("created" | "updated" | "deleted" | "schedule" | "manual")
record?: Fields
before?: Fields1
after?: Fields2
}
/**
 * The record the case is about, with its key field (created, deleted, schedule, manual).
 */
export interface Fields {
[k: string]: Scalar
}
/**
 * updated: the record before the change, with its key field.
 */
export interface Fields1 {
[k: string]: Scalar
}
/**
 * updated: the changed fields (merged over before; an empty string clears a field).
 */
export interface Fields2 {
[k: string]: Scalar
}
/**
 * Record fields by name (a partial record).
 */
export interface Fields3 {
[k: string]: Scalar
}
/**
 * A canned HTTP answer for one step.
 */
export interface Response {
/**
 * HTTP status. Default 200.
 */
status?: number
/**
 * Response headers. content-type defaults to text/xml for a body starting with <, text/plain otherwise.
 */
headers?: {
[k: string]: string
}
/**
 * The body, inline. Not with file.
 */
body?: string
/**
 * A file holding the body, relative to the test file (e.g. responses/create-ok.xml). Not with body.
 */
file?: string
}
/**
 * What must happen. Maps are partial: only the names listed are compared.
 */
export interface Expect {
/**
 * Whether the record is selected: the trigger takes the event and the rules hold.
 */
matches: boolean
/**
 * Expectations by step id (import workflows: list).
 */
steps?: {
[k: string]: StepExpect
}
fields?: ExpectedFields
/**
 * Other records after the run by key (e.g. what an import created), partial fields each.
 */
records?: {
[k: string]: ExpectedFields1
}
}
/**
 * What one step did.
 */
export interface StepExpect {
/**
 * The step's result; not_run means the step was never reached (an earlier step stopped the record, or the record did not match).
 */
outcome?: ("succeeded" | "failed" | "skipped" | "unknown" | "not_run")
request?: RequestExpect
outputs?: StringMap1
/**
 * Text the step's error message must contain.
 */
error?: string
/**
 * The vendor error code read from the answer, e.g. 1905.
 */
qualys_code?: (string | number)
}
/**
 * The request as sent (secrets redacted), partial.
 */
export interface RequestExpect {
/**
 * HTTP method, e.g. POST.
 */
method?: string
/**
 * The full URL with its query string (redacted values read [REDACTED]).
 */
url?: string
params?: StringMap
/**
 * The body of a non-form request (e.g. JSON), exact.
 */
body?: string
}
/**
 * Query and form parameters by wire name, partial; sensitive inputs read [REDACTED].
 */
export interface StringMap {
[k: string]: Expected
}
/**
 * Step outputs, partial; sensitive outputs read [REDACTED].
 */
export interface StringMap1 {
[k: string]: Expected
}
/**
 * Fields of the record after the run (response mappings applied), partial. A sensitive field is compared but never printed.
 */
export interface ExpectedFields {
[k: string]: Expected
}
/**
 * Record fields by name, partial: only the fields listed are compared; "" means empty.
 */
export interface ExpectedFields1 {
[k: string]: Expected
}
