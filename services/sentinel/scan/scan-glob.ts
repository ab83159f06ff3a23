/**
 * The glob of a scan, compiled once with picomatch. A glob without "/"
 * matches a file's name at any depth ("*.csv"); one with "/" matches the
 * path relative to the scan root ("raw/*.csv", "2024/**" and so on). Empty matches every
 * file. Paths given to the matcher use "/" and never start with one.
 */
import picomatch from 'picomatch';
import { invalidArgument } from '../../common/rpc-error';

export const MAX_GLOB_LENGTH = 1024;

export type PathMatcher = (relativePath: string) => boolean;

/** Compile `glob`, or throw INVALID_ARGUMENT saying what is wrong with it. */
export function compileGlob(glob: string): PathMatcher {
  if (glob === '' || glob === '**' || glob === '**/*') return () => true;
  const bad = (why: string) => invalidArgument(`glob "${glob.slice(0, 200)}" is invalid: ${why}`);
  if (glob.length > MAX_GLOB_LENGTH) throw invalidArgument(`glob is longer than ${MAX_GLOB_LENGTH} characters`);
  if (glob.includes('\0')) throw bad('it contains a NUL byte');
  if (glob.startsWith('/')) throw bad('it must be relative to the root (no leading "/")');
  if (glob.split('/').some((s) => s === '..')) throw bad('a ".." segment would leave the root');
  let test: (s: string) => boolean;
  try {
    test = picomatch(glob, { strictBrackets: true, dot: false });
  } catch (e) {
    throw bad((e as Error).message);
  }
  // picomatch's own `basename` option also changes how patterns with "/" match; choose the subject here instead.
  if (glob.includes('/')) return (rel) => test(rel);
  return (rel) => test(rel.slice(rel.lastIndexOf('/') + 1));
}
