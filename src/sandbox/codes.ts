// Qualys error codes the sandbox returns (reference §12) and their message texts.

export const CODE = {
  /** `Unrecognized parameter(s): ...` */
  UNRECOGNIZED: 1901,
  /** `Missing required parameter(s): ...` */
  MISSING: 1903,
  /** `Please specify only one of these parameters: ...` */
  EXCLUSIVE: 1904,
  /** `parameter ... has invalid value ...` */
  INVALID: 1905,
  /** `The following combination of key=value pairs is not supported: ...` */
  COMBINATION: 1907,
  CONCURRENCY_LIMIT: 1960,
  RATE_LIMIT: 1965,
  INTERNAL: 999,
  BAD_LOGIN: 2000,
  ACCOUNT_INACTIVE: 2002,
  REGISTRATION_PENDING: 2003,
  /** Used by the sandbox for callers whose role has no user-management rights (UNCONFIRMED). */
  NOT_AUTHORIZED: 2012,
} as const;

/**
 * A business error: rendered as `status="FAILED" number=code` in the script's envelope.
 * Deliberately not an Error subclass: it is thrown on the hot path of every rejected call and
 * always caught by the script handler, so capturing a stack trace would be wasted work.
 */
export class ApiFailure {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

export const unrecognized = (names: readonly string[]): ApiFailure =>
  new ApiFailure(CODE.UNRECOGNIZED, `Unrecognized parameter(s): ${names.join(', ')}`);

export const missing = (names: readonly string[]): ApiFailure =>
  new ApiFailure(CODE.MISSING, `Missing required parameter(s): ${names.join(', ')}`);

export const exclusive = (names: readonly string[]): ApiFailure =>
  new ApiFailure(CODE.EXCLUSIVE, `Please specify only one of these parameters: ${names.join(', ')}`);

export const invalid = (name: string, value: string, detail?: string): ApiFailure =>
  new ApiFailure(CODE.INVALID, `parameter ${name} has invalid value: ${value}${detail ? ` (${detail})` : ''}`);

export const combination = (pairs: ReadonlyArray<readonly [string, string]>): ApiFailure =>
  new ApiFailure(
    CODE.COMBINATION,
    `The following combination of key=value pairs is not supported: ${pairs.map(([k, v]) => `${k}=${v}`).join(', ')}`,
  );

export const notAuthorized = (): ApiFailure =>
  new ApiFailure(CODE.NOT_AUTHORIZED, 'User license is not authorized to run this API');

export const BAD_LOGIN_TEXT = 'Bad Login/Password';
