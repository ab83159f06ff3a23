/**
 * A TCP proxy between a worker and the Sentinel, so a test can cut the
 * network between them without killing either process: `cut()` drops every
 * connection at once and refuses new ones until `resume()`.
 */
import * as net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;

  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
  ) {}

  /** A proxy to targetHost:targetPort, listening on `listen` (default 127.0.0.1, any free port). */
  static async start(targetPort: number, targetHost = '127.0.0.1', listen: { host?: string; port?: number } = {}): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => proxy!.connect(client, targetHost, targetPort));
    const host = listen.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port ?? 0, host, () => resolve());
    });
    proxy = new TcpProxy(server, host, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Connections currently passing through. */
  get connections(): number {
    return this.sockets.size / 2;
  }

  private connect(client: net.Socket, host: string, port: number): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, host);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      this.sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.sockets.delete(a);
        b.destroy();
      });
    }
  }

  /** Drop every connection and refuse new ones until resume(). */
  cut(): void {
    this.refusing = true;
    for (const s of this.sockets) s.destroy();
  }

  resume(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
