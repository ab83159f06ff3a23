/**
 * What grpcurl does before a call: ask the server's reflection service
 * (grpc.reflection.v1) for its services and for the files that define a
 * symbol, and build a registry of message types from them, so a request can
 * be made from JSON exactly as grpcurl does (proto3 JSON, unknown fields
 * refused) without any local .proto file.
 */
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { create, createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

const REFLECTION_PROTO = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto');

type ReflectionRequest = { list_services: string } | { file_containing_symbol: string } | { file_by_filename: string };
interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

export class ReflectionClient {
  private readonly client: grpc.Client & { ServerReflectionInfo: (md: grpc.Metadata) => grpc.ClientDuplexStream<object, ReflectionResponse> };

  constructor(
    address: string,
    creds: grpc.ChannelCredentials,
    private readonly metadata = new grpc.Metadata(),
    options: grpc.ChannelOptions = {},
  ) {
    const def = protoLoader.loadSync(REFLECTION_PROTO, { keepCase: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(def) as any;
    this.client = new pkg.grpc.reflection.v1.ServerReflection(address, creds, options);
  }

  close(): void {
    this.client.close();
  }

  private ask(req: ReflectionRequest): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const call = this.client.ServerReflectionInfo(this.metadata);
      call.on('data', (res: ReflectionResponse) => {
        call.end();
        if (res.error_response) reject(new Error(`reflection: ${res.error_response.error_message} (code ${res.error_response.error_code})`));
        else resolve(res);
      });
      call.on('error', reject);
      call.write({ host: '', ...req });
    });
  }

  async listServices(): Promise<string[]> {
    return ((await this.ask({ list_services: '' })).list_services_response?.service ?? []).map((s) => s.name);
  }

  /** The file defining `symbol` and every file it imports, as one registry. */
  async registryFor(symbol: string): Promise<FileRegistry> {
    const files = new Map<string, FileDescriptorProto>();
    const add = (res: ReflectionResponse): void => {
      for (const b of res.file_descriptor_response?.file_descriptor_proto ?? []) {
        const f = fromBinary(FileDescriptorProtoSchema, b);
        files.set(f.name, f);
      }
    };
    add(await this.ask({ file_containing_symbol: symbol }));
    for (let missing = [...files.values()].flatMap((f) => f.dependency).filter((d) => !files.has(d)); missing.length; ) {
      for (const name of missing) add(await this.ask({ file_by_filename: name }));
      missing = [...files.values()].flatMap((f) => f.dependency).filter((d) => !files.has(d));
    }
    // The registry wants every file after the files it imports.
    const ordered: FileDescriptorProto[] = [];
    const visit = (f: FileDescriptorProto | undefined): void => {
      if (!f || ordered.includes(f)) return;
      for (const d of f.dependency) visit(files.get(d));
      ordered.push(f);
    };
    for (const f of files.values()) visit(f);
    return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  }
}
