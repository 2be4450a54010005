// The sandbox's data model: roles, statuses and the user record, shaped after the Qualys V1
// user parameters (snake_case field names match the API's parameter names on purpose).

/** Every `user_role` value the V1 API accepts (lower case, as sent on `action=add`). */
export const USER_ROLES = ['manager', 'unit_manager', 'scanner', 'reader', 'contact', 'administrator'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Roles an API account may have (a Contact has no login at all). */
export const API_ACCOUNT_ROLES = ['manager', 'unit_manager', 'administrator', 'scanner', 'reader'] as const;
export type ApiAccountRole = (typeof API_ACCOUNT_ROLES)[number];

/** `USER_ROLE` as `user_list.php` prints it. Only Manager and Scanner are observed; the rest are UNCONFIRMED. */
export const ROLE_DISPLAY: Readonly<Record<UserRole, string>> = {
  manager: 'Manager',
  unit_manager: 'Unit Manager',
  scanner: 'Scanner',
  reader: 'Reader',
  contact: 'Contact',
  administrator: 'Administrator',
};

export const USER_STATUSES = ['Active', 'Inactive', 'Pending Activation'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** The business unit every subscription has; Managers always belong to it. */
export const UNASSIGNED_BU = 'Unassigned';

/** A user as the sandbox stores it, and as `QualysSandbox.users()` returns it (a copy). */
export interface SandboxUser {
  /** Subscription id the user belongs to. */
  subscription: string;
  login: string;
  user_id: number;
  status: UserStatus;
  role: UserRole;
  business_unit: string;
  first_name: string;
  last_name: string;
  title: string;
  phone: string;
  fax: string;
  email: string;
  address1: string;
  address2: string;
  city: string;
  country: string;
  /** Empty when the country has no state list. */
  state: string;
  zip_code: string;
  /** Empty string when not set. */
  external_id: string;
  time_zone_code: string;
  asset_groups: string[];
  /** ISO 8601 UTC, seconds precision. */
  created_at: string;
  /** ISO 8601 UTC, or null if the user never logged in. */
  last_login_at: string | null;
  /** Current password (the sandbox keeps it in clear; it is fake). Null for Contacts. */
  password: string | null;
  unit_manager_poc: boolean;
  manager_poc: boolean;
  /** True for users that come from a configured API account. */
  api_account: boolean;
}

/** The stored record: a SandboxUser plus a render cache that is dropped whenever the user changes. */
export interface UserRecord extends SandboxUser {
  xml?: UserXmlCache | undefined;
}

export interface UserXmlCache {
  /** `<USER_LOGIN>` through `<CREATION_DATE>` (full view). */
  head: string;
  /** `<CONTACT_INFO>` through `<CREATION_DATE>` (partial view: no login, id, external id). */
  partialHead: string;
  /** `<USER_ROLE>` through `</USER>`. */
  tail: string;
}

/** A copy of a record without the cache, safe to hand out. */
export function snapshotUser(rec: UserRecord): SandboxUser {
  const { xml: _xml, ...rest } = rec;
  return { ...rest, asset_groups: [...rest.asset_groups] };
}

/** ISO 8601 UTC at seconds precision, as Qualys prints dates (`2018-07-20T22:54:25Z`). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19) + 'Z';
}
