/** Keeps only the last `limit` bytes written to it: a bounded tail of a guest's stdout or stderr. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes seen in total, including those dropped. */
  total = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (chunk.length >= this.limit) {
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.limit) {
      this.size -= this.chunks[0].length;
      this.chunks.shift();
    }
  }

  /** The tail as text, with a note when earlier output was dropped. */
  text(): string {
    let buf = Buffer.concat(this.chunks, this.size);
    if (buf.length > this.limit) buf = buf.subarray(buf.length - this.limit);
    const body = buf.toString('utf8');
    return this.total > buf.length ? `[... ${this.total - buf.length} earlier bytes dropped]\n${body}` : body;
  }
}
