/**
 * A fixed list of addresses with one of them current, for failover. Callers
 * use the current address until it fails, then move on to the next one,
 * wrapping around; so an address that failed is tried again only after every
 * other one has had its turn. The worker's Dispatch stream and the CLI's
 * SentinelClient each keep one ring.
 */
export class AddressRing {
  private index = 0;

  constructor(readonly addresses: readonly string[]) {
    if (addresses.length === 0) throw new Error('AddressRing needs at least one address');
  }

  get current(): string {
    return this.addresses[this.index];
  }

  /** `address` failed: if it is still the current one, the next becomes current. Returns the current address. */
  passOver(address: string): string {
    if (address === this.current) this.index = (this.index + 1) % this.addresses.length;
    return this.current;
  }

  /** `address` answered: it becomes current. */
  settle(address: string): void {
    const i = this.addresses.indexOf(address);
    if (i >= 0) this.index = i;
  }

  /** Every address once, the current one first, in ring order. */
  order(): string[] {
    return this.addresses.map((_, k) => this.addresses[(this.index + k) % this.addresses.length]);
  }
}
