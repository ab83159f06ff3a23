/** TLS material as compiled from the settings (services/common/tls.ts reads and checks it). */
export interface TlsMaterial {
  /** PEM certificate chain this process presents (server, or client for mTLS). */
  cert?: Buffer;
  key?: Buffer;
  /** PEM roots: of client certificates on a server, of the server on a client. */
  ca?: Buffer;
  /** Server: refuse clients without a certificate that chains to `ca`. */
  requireClientCert: boolean;
}
