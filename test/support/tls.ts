/*
 * Throwaway certificates for tests, made with the `openssl` command line: a CA, and server certificates
 * it signs. EC P-256 keys keep generation fast. Valid for two days.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** A certificate and its private key, as PEM files. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${e.stderr?.toString() || e.message}`);
  }
}

/** Creates a self-signed CA `<dir>/<name>.crt` + `.key`. */
export function createCertificateAuthority(dir: string, name: string, commonName: string): CertificateFiles {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { certFile, keyFile };
}

/** Creates `<dir>/<name>.crt` + `.key` for a server, signed by `ca`, with the given subjectAltNames (`DNS:x`, `IP:y`). */
export function issueServerCertificate(dir: string, name: string, ca: CertificateFiles, commonName: string, altNames: string[]): CertificateFiles {
  const certFile = path.join(dir, `${name}.crt`);
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const extFile = path.join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256',
    '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${commonName}`]);
  fs.writeFileSync(extFile, [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${altNames.join(',')}`,
  ].join('\n') + '\n');
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-sha256', '-days', '2',
    '-out', certFile, '-extfile', extFile]);
  fs.rmSync(csrFile);
  fs.rmSync(extFile);
  return { certFile, keyFile };
}
