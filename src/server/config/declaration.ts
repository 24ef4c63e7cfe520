import type { Kind } from './kinds'

// The shape of one configuration declaration (see ./variables) and the `Config` type derived from them.

interface Variable<Name extends string, Field extends string, T> {
  /** As written in the environment. */
  readonly name: Name
  /** The `Config` field it fills. */
  readonly field: Field
  readonly kind: Kind<T>
  /** For the README: what it does (its kind, default and requirements are shown beside it). */
  readonly doc: string
}

export interface Defaulted<Name extends string = string, Field extends string = string, T = unknown>
  extends Variable<Name, Field, T> {
  /** The value when unset; shown as text in the README and parsed like a set value, so it meets the kind. */
  readonly default: T
}

export interface Optional<Name extends string = string, Field extends string = string, T = unknown>
  extends Variable<Name, Field, T> {
  /** What leaving it unset means (the field is null), for the README. */
  readonly unset: string
}

export type Declaration = Defaulted | Optional

export function variable<const Name extends string, const Field extends string, T>(
  declaration: Variable<Name, Field, T> & { default: NoInfer<T> },
): Defaulted<Name, Field, T>
export function variable<const Name extends string, const Field extends string, T>(
  declaration: Variable<Name, Field, T> & { unset: string },
): Optional<Name, Field, T>
export function variable(declaration: Declaration): Declaration {
  return declaration
}

type ValueOf<D> =
  D extends Defaulted<string, string, infer T>
    ? T
    : D extends Optional<string, string, infer T>
      ? T | null
      : never

/** One field per declaration, of its kind's type; null where a variable without a default is unset. */
export type ConfigOf<D extends Declaration> = { -readonly [Each in D as Each['field']]: ValueOf<Each> }
