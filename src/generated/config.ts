/* Generated from schemas/config.schema.json by scripts/gen-types.mjs. Do not edit. */

/**
 * A named credential. Secret parts are read at run time with { env: NAME } or { file: PATH }, never written into YAML.
 */
export type Credential = ({
[k: string]: unknown
} & {
/**
 * Authentication scheme. `basic`: HTTP Basic auth from username and password (what the Qualys /msp/ API accepts). `bearer`: an `Authorization: Bearer TOKEN` header. `header`: one header with a secret value, such as an API key.
 */
type: ("basic" | "bearer" | "header")
/**
 * basic: the user name, a plain string, or { env: NAME } / { file: PATH }.
 */
username?: (string | SecretSource)
password?: SecretSource1
token?: SecretSource2
/**
 * header: the header name, such as X-Api-Key.
 */
header?: string
value?: SecretSource3
})

/**
 * One skein.yaml per workflow directory: global variables, named credentials and the objects (record types) workflows act on.
 */
export interface ConfigFile {
/**
 * Format version of this file. Only 1 exists.
 */
version: 1
/**
 * Global variables, usable in templates as {{vars.NAME}}. Never put secrets here: use credentials.
 */
variables?: {
/**
 * A variable value: a string, number or boolean.
 */
[k: string]: (string | number | boolean)
}
/**
 * Named credentials that steps refer to with `credentials: NAME`. Secret values come from environment variables or files at run time, never from YAML.
 */
credentials?: {
[k: string]: Credential
}
/**
 * Record types. `users` is built in (key `username` plus the standard user fields); declare custom fields here, or new objects with a `key`.
 */
objects?: {
[k: string]: Object
}
}
/**
 * Where a secret is read at run time: an environment variable or a file (trailing newline removed).
 */
export interface SecretSource {
/**
 * Name of the environment variable that holds the value.
 */
env?: string
/**
 * Path of a file that holds the value (e.g. /run/secrets/qualys_password); relative paths are relative to skein.yaml.
 */
file?: string
}
/**
 * Where a secret is read at run time: an environment variable or a file (trailing newline removed).
 */
export interface SecretSource1 {
/**
 * Name of the environment variable that holds the value.
 */
env?: string
/**
 * Path of a file that holds the value (e.g. /run/secrets/qualys_password); relative paths are relative to skein.yaml.
 */
file?: string
}
/**
 * Where a secret is read at run time: an environment variable or a file (trailing newline removed).
 */
export interface SecretSource2 {
/**
 * Name of the environment variable that holds the value.
 */
env?: string
/**
 * Path of a file that holds the value (e.g. /run/secrets/qualys_password); relative paths are relative to skein.yaml.
 */
file?: string
}
/**
 * Where a secret is read at run time: an environment variable or a file (trailing newline removed).
 */
export interface SecretSource3 {
/**
 * Name of the environment variable that holds the value.
 */
env?: string
/**
 * Path of a file that holds the value (e.g. /run/secrets/qualys_password); relative paths are relative to skein.yaml.
 */
file?: string
}
/**
 * A record type: its key field and its custom fields.
 */
export interface Object {
/**
 * The field that identifies a record. Fixed for built-in objects (users: username); required for new objects.
 */
key?: string
/**
 * What this object holds.
 */
description?: string
/**
 * Custom fields, by name.
 */
fields?: {
[k: string]: Field
}
}
/**
 * A custom field.
 */
export interface Field {
/**
 * Value type, checked on every write: string, long_text, number, boolean or date (ISO 8601).
 */
type: ("string" | "long_text" | "number" | "boolean" | "date")
/**
 * Mask the value in every output and log. Required for a field that receives a password.
 */
sensitive?: boolean
/**
 * What the field holds.
 */
description?: string
}
