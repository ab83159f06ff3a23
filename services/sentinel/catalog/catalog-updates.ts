/**
 * What the commit and purge paths tell the catalog (contract only; the
 * implementation is catalog-writer.ts). Both calls return at once and never
 * throw: keeping the catalog file current is never part of a commit.
 */
export interface CatalogUpdates {
  /** An attempt committed outputs with these names. */
  committed(names: readonly string[]): void;
  /** Jobs were purged: some dataset may have lost its last job. */
  removed(): void;
}
