/**
 * The kinds of value a setting can hold. Each kind is a zod schema that takes
 * what a user can write — a flag's or variable's text, or a config file's
 * YAML/JSON value — and yields the typed value, plus the phrase an error
 * uses for what was expected ("an integer >= 1").
 */
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config-error';
import { parseSentinelTargets, TARGET_FORMS } from '../sentinel-targets';

export interface Kind<T> {
  schema: z.ZodType<T>;
  /** Completes "--port must be …": what a valid value looks like. */
  expect: string;
  /** Paths (and lists of paths) given in a config file are relative to the file's directory. */
  paths?: boolean;
}

const digits = z.string().trim().regex(/^[-+]?\d+$/).transform(Number);

/** A whole number from `min` up; a flag or variable must be written in decimal digits. */
export function int(min: number): Kind<number> {
  return {
    schema: z.union([z.number(), digits]).pipe(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER)),
    expect: `an integer >= ${min}`,
  };
}

/** Any non-empty text (numbers in a config file are taken as their text, e.g. a worker id). */
export function text(): Kind<string> {
  return { schema: z.union([z.string().min(1), z.number().transform(String)]), expect: 'a non-empty string' };
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T): Kind<T[number]> {
  return { schema: z.enum(values) as unknown as z.ZodType<T[number]>, expect: `one of ${values.join(', ')}` };
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** On or off: a boolean flag, or 1/0, true/false, yes/no, on/off. */
export function bool(): Kind<boolean> {
  return {
    schema: z.union([
      z.boolean(),
      z.string().trim().toLowerCase().pipe(z.enum([...TRUE, ...FALSE] as [string, ...string[]])).transform((v) => TRUE.includes(v)),
    ]),
    expect: 'true or false (1/0, yes/no)',
  };
}

function list(separator: string): z.ZodType<string[]> {
  return z
    .union([z.array(z.string()), z.string().transform((s) => s.split(separator))])
    .transform((items) => items.map((s) => s.trim()).filter(Boolean));
}

/** Names, comma-separated in a flag or variable, a list (or that same text) in a file. */
export function names(): Kind<string[]> {
  return { schema: list(','), expect: 'a comma-separated list of names' };
}

export function filePath(): Kind<string> {
  return { schema: z.string().min(1), expect: 'a path', paths: true };
}

/** Paths, separated like PATH (`:` on POSIX) in a flag or variable, a list in a file. */
export function pathList(): Kind<string[]> {
  return { schema: list(path.delimiter), expect: `a list of paths ("${path.delimiter}"-separated)`, paths: true };
}

/**
 * Sentinel addresses (sentinel-targets.ts): comma-separated in a flag or
 * variable, a list (or that same text) in a file. A bad entry is named in
 * the error.
 */
export function sentinelTargets(): Kind<string[]> {
  return {
    schema: z.union([z.array(z.string()), z.string()]).transform((value, ctx) => {
      try {
        return parseSentinelTargets(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
    expect: `a comma-separated list of ${TARGET_FORMS}`,
  };
}

/**
 * The value a kind makes of `raw`, or a ConfigError naming the setting as the
 * user gave it (`label`): `--port (CASPARIAN_PORT) must be an integer >= 0, got "abc"`.
 */
export function parseValue<T>(kind: Kind<T>, raw: unknown, label: string): T {
  const r = kind.schema.safeParse(raw);
  if (r.success) return r.data;
  // A list of alternatives ("one of a, b, c") ends with a semicolon, not another comma.
  const sep = kind.expect.includes(',') ? ';' : ',';
  // A kind that says what is wrong (a custom issue) has its say after the value.
  const why = r.error.issues.find((i) => i.code === 'custom')?.message;
  throw new ConfigError(`${label} must be ${kind.expect}${sep} got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}${why ? `: ${why}` : ''}`);
}
