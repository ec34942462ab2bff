import { createRegistry, type DescFile, type DescService, type Registry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "./gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "./gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The question of one ServerReflectionRequest; v1 and v1alpha have the same fields. */
type Question =
  | v1.ServerReflectionRequest["messageRequest"]
  | v1alpha.ServerReflectionRequest["messageRequest"];
/**
 * The answer of one ServerReflectionResponse (its message_response), as plain values that
 * initialise the v1 and the v1alpha message alike.
 */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Route definitions that add gRPC server reflection (`grpc.reflection.v1.ServerReflection` and
 * the older `grpc.reflection.v1alpha.ServerReflection`, which `buf curl` and grpcurl fall back
 * to and older clients ask for) to `routes`, describing every service `routes` registers and the
 * reflection services themselves, as grpc-go's reflection does. With it, `buf curl`, grpcurl
 * and Postman need no local copy of the schema.
 *
 * The schema served is the one the services were generated from (protobuf-es embeds each
 * file's descriptor in the generated code), so it cannot drift from what the server speaks.
 * Embedded descriptors carry no comments (source_code_info), so clients see none.
 */
export function withServerReflection(
  routes: (router: ConnectRouter) => void,
): (router: ConnectRouter) => void {
  return (router) => {
    routes(router);
    let schema: ReflectedSchema | undefined;
    // Built on first use: by then every service, these two included, is on the router.
    const lookup = () => {
      schema ??= new ReflectedSchema(router.handlers.map((h) => h.service));
      return schema;
    };
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: lookup().answer(request.messageRequest, sent),
          };
        }
      },
    });
    router.service(v1alpha.ServerReflection, {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const request of requests) {
          yield {
            validHost: request.host,
            originalRequest: request,
            messageResponse: lookup().answer(request.messageRequest, sent),
          };
        }
      },
    });
  };
}

/** The files and symbols of a set of services, indexed for reflection's questions. */
class ReflectedSchema {
  private readonly services: string[];
  private readonly files = new Map<string, DescFile>();
  private readonly types: Registry;

  constructor(services: readonly DescService[]) {
    this.services = [...new Set(services.map((s) => s.typeName))].sort();
    const visit = (file: DescFile) => {
      if (this.files.has(file.proto.name)) return;
      this.files.set(file.proto.name, file);
      for (const dep of file.dependencies) visit(dep);
    };
    for (const service of services) visit(service.file);
    this.types = createRegistry(...this.files.values());
  }

  /**
   * The answer to one question. Files are sent with every dependency not yet sent on this
   * stream (`sent`, updated): the spec allows leaving those out, and clients that ask for
   * many symbols (buf curl describing a service) then get each file once.
   */
  answer(question: Question, sent: Set<string>): Answer {
    switch (question.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: this.services.map((name) => ({ name })) },
        };
      case "fileByFilename": {
        const file = this.files.get(question.value);
        return file ? this.fileAnswer(file, sent) : notFound(`file not found: ${question.value}`);
      }
      case "fileContainingSymbol": {
        const file = this.fileOfSymbol(question.value);
        return file ? this.fileAnswer(file, sent) : notFound(`symbol not found: ${question.value}`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = question.value;
        const extendee = this.types.getMessage(containingType);
        const extension = extendee && this.types.getExtensionFor(extendee, extensionNumber);
        return extension
          ? this.fileAnswer(extension.file, sent)
          : notFound(`extension ${extensionNumber} of ${containingType} not found`);
      }
      case "allExtensionNumbersOfType": {
        const typeName = question.value;
        if (this.types.getMessage(typeName) === undefined) {
          return notFound(`type not found: ${typeName}`);
        }
        const numbers: number[] = [];
        for (const type of this.types) {
          if (type.kind === "extension" && type.extendee.typeName === typeName) numbers.push(type.number);
        }
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: typeName, extensionNumber: numbers },
        };
      }
      case undefined:
        // grpc-go ends the stream with InvalidArgument here; an answer keeps the stream usable.
        return {
          case: "errorResponse",
          value: {
            errorCode: Code.InvalidArgument,
            errorMessage: "the request sets no message_request field",
          },
        };
    }
  }

  /**
   * The file declaring a fully-qualified name: a message, enum, extension or service, or a
   * method, field or oneof (named after their service or message), or an enum value (named,
   * as in protobuf, after the scope its enum is declared in).
   */
  private fileOfSymbol(name: string): DescFile | undefined {
    const type = this.types.get(name);
    if (type) return type.file;
    const dot = name.lastIndexOf(".");
    const parentName = name.slice(0, Math.max(dot, 0));
    const member = name.slice(dot + 1);
    const parent = this.types.get(parentName);
    if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
    if (parent?.kind === "message") {
      if (parent.fields.some((f) => f.name === member) || parent.oneofs.some((o) => o.name === member)) {
        return parent.file;
      }
    }
    for (const type of this.types) {
      if (type.kind !== "enum") continue;
      const scope = type.typeName.slice(0, Math.max(type.typeName.lastIndexOf("."), 0));
      if (scope === parentName && type.values.some((v) => v.name === member)) return type.file;
    }
    return undefined;
  }

  private fileAnswer(file: DescFile, sent: Set<string>): Answer {
    const out: Uint8Array[] = [];
    const add = (f: DescFile) => {
      sent.add(f.proto.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) {
        if (!sent.has(dep.proto.name)) add(dep);
      }
    };
    // The requested file always goes, even if sent before: the client asked for it. A file
    // sent before went with all its dependencies, so skipping sent ones loses none.
    add(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  }
}

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } };
}
