import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface CertPair {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface TestPki {
  /** The CA that signed `server` and `client`. */
  ca: CertPair;
  /** CN=localhost, SAN localhost and 127.0.0.1. */
  server: CertPair;
  /** A client certificate the CA signed (CN=nsguard-admin). */
  client: CertPair;
  /** A self-signed client certificate no configured CA vouches for (CN=intruder). */
  stranger: CertPair;
}

/** Generates a small PKI with the openssl CLI into `dir` (real certificates, as an operator makes them). */
export function makeTestPki(dir: string): TestPki {
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  const pair = (name: string): CertPair => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return {
      certFile,
      keyFile,
      get cert() {
        return readFileSync(certFile, "utf8");
      },
      get key() {
        return readFileSync(keyFile, "utf8");
      },
    };
  };
  const newSelfSigned = (name: string, cn: string, extra: string[] = []): CertPair => {
    const p = pair(name);
    openssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      p.keyFile,
      "-out",
      p.certFile,
      ...extra,
    );
    return p;
  };
  const signed = (name: string, cn: string, ca: CertPair, extensions: string): CertPair => {
    const p = pair(name);
    const csr = join(dir, `${name}.csr`);
    const ext = join(dir, `${name}.ext`);
    openssl(
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=${cn}`,
      "-keyout",
      p.keyFile,
      "-out",
      csr,
    );
    execFileSync("sh", ["-c", `printf '%s\\n' "$1" > "$2"`, "sh", extensions, ext]);
    openssl(
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      p.certFile,
    );
    return p;
  };
  const ca = newSelfSigned("ca", "nsguard-test-ca", ["-addext", "basicConstraints=critical,CA:TRUE"]);
  return {
    ca,
    server: signed(
      "server",
      "localhost",
      ca,
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    ),
    client: signed("client", "nsguard-admin", ca, "extendedKeyUsage=clientAuth"),
    stranger: newSelfSigned("stranger", "intruder"),
  };
}
