// Object types (record kinds) and their fields: the built-in `users` object plus what skein.yaml
// declares. Shared by the validator (template references, response targets) and the store.

export const FIELD_TYPES = ['string', 'long_text', 'number', 'boolean', 'date'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldDef {
  type: FieldType;
  /** Values are masked on output and never logged; only such fields may receive passwords. */
  sensitive: boolean;
  /** Shipped with the object, not declared in skein.yaml. */
  builtin: boolean;
  description?: string;
}

export interface ObjectDef {
  name: string;
  /** The field that identifies a record (users: username). */
  key: string;
  fields: Record<string, FieldDef>;
}

const str = (description: string): FieldDef => ({ type: 'string', sensitive: false, builtin: true, description });

/** Built-in fields of `users`, named as people in asset-management tools know them. */
export const BUILTIN_USER_FIELDS: Record<string, FieldDef> = {
  username: str('Unique user name; the key of the users object.'),
  email: str('Work email address.'),
  first_name: str('Given name.'),
  last_name: str('Family name.'),
  title: str('Job title.'),
  phone: str('Phone number.'),
  fax: str('Fax number.'),
  address1: str('Street address, first line.'),
  address2: str('Street address, second line.'),
  city: str('City.'),
  state: str('State or province (full name, as Qualys expects).'),
  country: str('Country (full name, as Qualys expects).'),
  zip_code: str('Postal code.'),
  status: str('Lifecycle status, e.g. Active, Inactive, Pending.'),
  department: str('Department.'),
  manager: str('Manager username or email.'),
  employee_id: str('HR employee id.'),
  external_id: str('Identifier in an external identity provider (SSO).'),
  start_date: { type: 'date', sensitive: false, builtin: true, description: 'First working day.' },
  end_date: { type: 'date', sensitive: false, builtin: true, description: 'Last working day (offboarding).' },
};

/** Objects that exist without any declaration. */
export const BUILTIN_OBJECTS: Record<string, { key: string; fields: Record<string, FieldDef> }> = {
  users: { key: 'username', fields: BUILTIN_USER_FIELDS },
};

/** Declared shape of one object in skein.yaml (`objects.<name>`). */
export interface DeclaredObject {
  key?: string;
  fields?: Record<string, { type: FieldType; sensitive?: boolean; description?: string }>;
}

/**
 * A copy with no prototype, so names such as `constructor` or `toString` are never mistaken for
 * fields by `fields[name]` lookups.
 */
function fieldMap(from: Record<string, FieldDef>): Record<string, FieldDef> {
  return Object.assign(Object.create(null) as Record<string, FieldDef>, from);
}

/**
 * Merges the built-in objects with the declared ones. A declared object that is not built in
 * needs a `key`; a declared field may not redefine a built-in field (the validator reports it).
 */
export function buildObjectDefs(declared: Record<string, DeclaredObject> | undefined): Map<string, ObjectDef> {
  const out = new Map<string, ObjectDef>();
  for (const [name, b] of Object.entries(BUILTIN_OBJECTS)) {
    out.set(name, { name, key: b.key, fields: fieldMap(b.fields) });
  }
  for (const [name, decl] of Object.entries(declared ?? {})) {
    const base = out.get(name);
    const fields = fieldMap(base?.fields ?? {});
    for (const [fname, f] of Object.entries(decl.fields ?? {})) {
      if (base && Object.hasOwn(base.fields, fname) && base.fields[fname]!.builtin) continue;
      fields[fname] = { type: f.type, sensitive: f.sensitive ?? false, builtin: false, description: f.description };
    }
    const key = base?.key ?? decl.key ?? 'id';
    if (!fields[key]) fields[key] = { type: 'string', sensitive: false, builtin: true, description: 'Record key.' };
    out.set(name, { name, key, fields });
  }
  return out;
}
