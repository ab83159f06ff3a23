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
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type DescriptorProto, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';

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
    qualifyTypeNames([...files.values()]);
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

/**
 * The Sentinel's reflection (@grpc/reflection) serves files rebuilt from its
 * loaded definitions: type references as written in the .proto (`ErrorClass`),
 * not fully qualified (`.casparian.v1.ErrorClass`) as protoc writes them, and
 * no `dependency` lists, and an empty `json_name` on every field. grpcurl resolves such names by protobuf's scoping
 * rules; this does the same, in place, and lists for each file the files
 * whose types it uses, so that the registry can be built.
 */
function qualifyTypeNames(files: FileDescriptorProto[]): void {
  const known = new Map<string, string>(); // type name -> file name
  const collect = (file: string, prefix: string, msgs: DescriptorProto[], enums: { name: string }[]): void => {
    for (const e of enums) known.set(`${prefix}.${e.name}`, file);
    for (const m of msgs) {
      known.set(`${prefix}.${m.name}`, file);
      collect(file, `${prefix}.${m.name}`, m.nestedType, m.enumType);
    }
  };
  for (const f of files) collect(f.name, f.package ? `.${f.package}` : '', f.messageType, f.enumType);
  let uses = new Set<string>();
  const resolve = (scope: string, name: string): string => {
    if (!name) return name;
    if (name.startsWith('.')) {
      const file = known.get(name);
      if (file) uses.add(file);
      return name;
    }
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (known.has(`${s}.${name}`)) return resolve(scope, `${s}.${name}`);
      if (!s) throw new Error(`reflection: type ${name} (in ${scope || 'the root'}) is not defined in any served file`);
    }
  };
  const fix = (scope: string, msgs: DescriptorProto[]): void => {
    for (const m of msgs) {
      const inner = `${scope}.${m.name}`;
      for (const field of m.field) {
        field.typeName = resolve(inner, field.typeName);
        // Served as an empty json_name, which would name every field "" in JSON: protoc's default instead.
        if (!field.jsonName) field.jsonName = field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      }
      fix(inner, m.nestedType);
    }
  };
  for (const f of files) {
    uses = new Set<string>();
    const pkg = f.package ? `.${f.package}` : '';
    fix(pkg, f.messageType);
    for (const svc of f.service) for (const m of svc.method) [m.inputType, m.outputType] = [resolve(pkg, m.inputType), resolve(pkg, m.outputType)];
    uses.delete(f.name);
    f.dependency = [...new Set([...f.dependency, ...uses])];
  }
}
