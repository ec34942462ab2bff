import { create, type UnknownField } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type GetEventsResponse, GetEventsResponseSchema } from "@nsguard/sdk";

/**
 * Encode once, send many.
 *
 * connect-node serialises every message a stream yields, once per stream, with `toBinary`.
 * With N clients that would encode each event N times. protobuf-es writes a message's
 * unknown fields (`$unknown`) verbatim after its known fields (`writeUnknownFields` is on by
 * default), so a `GetEventsResponse` with no known fields set and the pre-encoded event
 * stored as unknown fields serialises to exactly the original bytes: the per-stream cost
 * becomes a copy of a few byte ranges instead of a walk over the whole message tree.
 *
 * Only binary protocols can use such a shell: `toJson` ignores unknown fields, so JSON
 * clients must get the real message.
 */

/**
 * Splits an encoded message into its top-level fields, in the shape protobuf-es uses for
 * unknown fields: `data` is everything after the tag (for length-delimited fields, the
 * length prefix and the payload). The ranges are views into `bytes`, not copies.
 */
export function splitTopLevelFields(bytes: Uint8Array): UnknownField[] {
  const reader = new BinaryReader(bytes);
  const fields: UnknownField[] = [];
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    fields.push({ no, wireType, data: reader.skip(wireType, no) });
  }
  return fields;
}

/**
 * A `GetEventsResponse` whose binary serialisation is exactly `bytes` (the encoding of the
 * real event). Its known fields are all unset, so it must only be handed to binary
 * serialisation: see {@link isBinaryContentType}.
 */
export function binaryShell(bytes: Uint8Array): GetEventsResponse {
  const shell = create(GetEventsResponseSchema);
  shell.$unknown = splitTopLevelFields(bytes);
  return shell;
}

// gRPC ("application/grpc" alone means proto), gRPC-Web (incl. the base64 "-text" variant,
// which encodes binary frames), Connect streaming and Connect unary.
const binaryContentType = /^application\/(?:(?:grpc|grpc-web|grpc-web-text|connect)(?:\+proto)?|proto)$/;

/**
 * Whether a request's content-type means the response is protobuf binary. Anything else —
 * `+json` codecs, a missing header, an unknown codec — answers false, because the real
 * message is correct for every codec while the shell is only correct for binary.
 */
export function isBinaryContentType(contentType: string | null | undefined): boolean {
  if (!contentType) {
    return false;
  }
  const mediaType = contentType.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  return binaryContentType.test(mediaType);
}
