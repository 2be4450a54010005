// Names that mark a value as a secret by themselves (a header `X-Api-Key`, a query `token=`):
// such values are shown masked in plans and run history, and validate refuses them written into
// YAML.

/**
 * A name segment (split at `-`, `_` or `.`) such as authorization, token, secret, password,
 * api-key, key, signature, cookie or session.
 */
const SECRET_NAME = /(?:^|[-_.])(?:authorization|auth|token|secret|password|passwd|pwd|pw|api[-_]?key|apikey|key|signature|sig|cookie|session)(?:$|[-_.])/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}
