/**
 * Static checks of infra/terraform: providers cannot be downloaded here, so `terraform validate`
 * cannot run; instead every .tf file is parsed with @cdktf/hcl2json and its security-relevant
 * shape is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
// Loaded by a specifier TypeScript does not resolve: the package's typings pull in the DOM
// library (`/// <reference lib="dom" />`), which would retype BufferSource for the whole project.
const HCL2JSON = '@cdktf/hcl2json';
const { parse } = (await import(HCL2JSON)) as {
  parse: (filename: string, text: string) => Promise<Record<string, unknown>>;
};

type Json = Record<string, unknown>;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TF = join(ROOT, 'infra', 'terraform');

function listTf(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (name.startsWith('.')) continue;
    if (statSync(path).isDirectory()) out.push(...listTf(path));
    else if (name.endsWith('.tf')) out.push(path);
  }
  return out;
}

interface ParsedFile {
  readonly file: string;
  readonly module: string;
  readonly text: string;
  readonly json: Json;
}

let cache: Promise<ParsedFile[]> | undefined;
function parsedFiles(): Promise<ParsedFile[]> {
  cache ??= Promise.all(
    listTf(TF).map(async (file) => {
      const text = readFileSync(file, 'utf8');
      const json = (await parse(file, text)) as Json;
      return { file: relative(TF, file), module: relative(TF, dirname(file)) || '.', text, json };
    }),
  );
  return cache;
}

const asRecord = (value: unknown): Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
const asList = (value: unknown): unknown[] =>
  Array.isArray(value) ? value : value === undefined ? [] : [value];

/** Every block of `kind` ("resource" / "data") and type, as [name, body, file]. */
function blocks(files: ParsedFile[], kind: string, type: string): [string, Json, ParsedFile][] {
  const out: [string, Json, ParsedFile][] = [];
  for (const f of files) {
    const byName = asRecord(asRecord(f.json[kind])[type]);
    for (const [name, bodies] of Object.entries(byName)) {
      for (const body of asList(bodies)) out.push([name, asRecord(body), f]);
    }
  }
  return out;
}

/** An IAM action pattern (with * and ?) that covers `action`. */
function covers(pattern: string, action: string): boolean {
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
    'i',
  );
  return re.test(action);
}

const SENSITIVE = ['kms:Decrypt', 'kms:GenerateDataKey'];
const ATTESTATION_KEY = 'kms:RecipientAttestation:ImageSha384';

test('terraform fmt -check -recursive infra/terraform is clean', () => {
  const run = spawnSync('terraform', ['fmt', '-check', '-recursive', TF], { encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('the terraform binary is not on PATH: install Terraform >= 1.9 (CI has it)');
  }
  assert.equal(run.status, 0, `terraform fmt would change:\n${run.stdout}${run.stderr}`);
});

test('every .tf file parses and the expected modules exist', async () => {
  const files = await parsedFiles();
  const modules = new Set(files.map((f) => f.module));
  for (const m of [
    '.',
    'modules/network',
    'modules/party',
    'modules/coordinator',
    'modules/database',
    'modules/monitoring',
  ]) {
    assert.ok(modules.has(m), `missing module ${m}`);
  }
  const root = files.filter((f) => f.module === '.');
  const partyModule = root.flatMap((f) => asList(asRecord(f.json.module)['party']).map(asRecord));
  assert.equal(partyModule.length, 1);
  assert.ok(partyModule[0]!['for_each'], 'module "party" must use for_each over the parties');
});

test('every variable has a non-empty description and a type', async () => {
  const files = await parsedFiles();
  let count = 0;
  for (const f of files) {
    for (const [name, bodies] of Object.entries(asRecord(f.json.variable))) {
      for (const body of asList(bodies).map(asRecord)) {
        count++;
        const where = `${f.file}: variable "${name}"`;
        assert.ok(
          typeof body.description === 'string' && body.description.trim() !== '',
          `${where} has no description`,
        );
        assert.ok(typeof body.type === 'string' && body.type !== '', `${where} has no type`);
      }
    }
  }
  assert.ok(count > 20, `only ${count} variables found`);
});

test('KMS key policies grant Decrypt / GenerateDataKey only under an ImageSha384 condition', async () => {
  const files = await parsedFiles();
  const keys = blocks(files, 'resource', 'aws_kms_key');
  assert.ok(keys.length >= 1, 'no aws_kms_key found');
  let granting = 0;
  for (const [name, key, f] of keys) {
    const policy = key.policy;
    assert.equal(typeof policy, 'string', `${f.file}: aws_kms_key.${name} has no policy`);
    const ref = /^\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}$/.exec(
      String(policy),
    );
    assert.ok(
      ref,
      `${f.file}: aws_kms_key.${name} policy must be an aws_iam_policy_document (got ${policy})`,
    );
    const docs = blocks(files, 'data', 'aws_iam_policy_document').filter(
      ([n, , g]) => n === ref[1] && g.module === f.module,
    );
    assert.equal(docs.length, 1, `policy document ${ref[1]} not found in ${f.module}`);
    const doc = docs[0]![1];
    // A statement generated by a dynamic block cannot be checked statically: refuse them.
    assert.equal(
      asRecord(doc.dynamic)['statement'],
      undefined,
      'dynamic statements in a key policy',
    );
    assert.equal(doc.source_policy_documents, undefined, 'merged documents in a key policy');
    assert.equal(doc.override_policy_documents, undefined, 'merged documents in a key policy');
    for (const s of asList(doc.statement).map(asRecord)) {
      const effect = s.effect ?? 'Allow';
      assert.equal(s.not_actions, undefined, 'not_actions in a key policy');
      const actions = asList(s.actions).map(String);
      const grants = effect === 'Allow' && actions.some((a) => SENSITIVE.some((x) => covers(a, x)));
      if (!grants) continue;
      granting++;
      const conditions = asList(s.condition).map(asRecord);
      const attested = conditions.filter((c) => c.variable === ATTESTATION_KEY);
      assert.equal(
        attested.length,
        1,
        `statement ${String(s.sid)} grants ${actions} without ${ATTESTATION_KEY}`,
      );
      assert.equal(attested[0]!.test, 'StringEqualsIgnoreCase');
      assert.ok(attested[0]!.values, 'the ImageSha384 condition has no values');
      // Only the party's own role, never a wildcard or the account root.
      for (const p of asList(s.principals).map(asRecord)) {
        for (const id of asList(p.identifiers).map(String)) {
          assert.ok(!/^\*$|:root$/.test(id), `statement ${String(s.sid)} grants to ${id}`);
        }
      }
    }
  }
  assert.ok(granting >= 1, 'no key policy statement lets the enclave decrypt at all');
});

test('the party module admits no 0.0.0.0/0 or ::/0 ingress; parent ingress comes from a security group', async () => {
  const party = (await parsedFiles()).filter((f) => f.module === 'modules/party');
  const open = /0\.0\.0\.0\/0|::\/0/;
  for (const [name, sg, f] of blocks(party, 'resource', 'aws_security_group')) {
    for (const rule of asList(sg.ingress).map(asRecord)) {
      assert.ok(
        !open.test(JSON.stringify(rule)),
        `${f.file}: aws_security_group.${name} ingress is open`,
      );
    }
    for (const rule of asList(sg.egress).map(asRecord)) {
      assert.ok(
        !open.test(JSON.stringify(rule)),
        `${f.file}: aws_security_group.${name} egress is open`,
      );
    }
  }
  for (const [name, rule, f] of blocks(party, 'resource', 'aws_security_group_rule')) {
    assert.ok(
      !open.test(JSON.stringify(rule)),
      `${f.file}: aws_security_group_rule.${name} is open`,
    );
    if (rule.type === 'ingress') {
      assert.ok(
        rule.source_security_group_id,
        `${f.file}: ingress rule ${name} not from a security group`,
      );
    }
  }
  const ingress = blocks(party, 'resource', 'aws_vpc_security_group_ingress_rule');
  assert.ok(ingress.length >= 1, 'the parent security group admits nothing');
  for (const [name, rule, f] of ingress) {
    const where = `${f.file}: aws_vpc_security_group_ingress_rule.${name}`;
    assert.ok(!open.test(JSON.stringify(rule)), `${where} is open`);
    assert.equal(rule.cidr_ipv4, undefined, `${where} admits a CIDR`);
    assert.equal(rule.cidr_ipv6, undefined, `${where} admits a CIDR`);
    assert.equal(rule.prefix_list_id, undefined, `${where} admits a prefix list`);
    assert.match(
      String(rule.referenced_security_group_id),
      /^\$\{var\.coordinator_security_group_id\}$/,
    );
  }
  for (const [name, rule, f] of blocks(party, 'resource', 'aws_vpc_security_group_egress_rule')) {
    const where = `${f.file}: aws_vpc_security_group_egress_rule.${name}`;
    assert.equal(rule.cidr_ipv4, undefined, `${where} egress to a CIDR`);
    assert.equal(rule.cidr_ipv6, undefined, `${where} egress to a CIDR`);
    assert.equal(rule.from_port, 443);
    assert.equal(rule.to_port, 443);
    assert.ok(rule.referenced_security_group_id, `${where} is not to a security group`);
  }
});

test('parent instances run enclaves with IMDSv2 and encrypted, keyless root volumes', async () => {
  const party = (await parsedFiles()).filter((f) => f.module === 'modules/party');
  const parents = [
    ...blocks(party, 'resource', 'aws_instance'),
    ...blocks(party, 'resource', 'aws_launch_template'),
  ];
  assert.ok(parents.length >= 1, 'no parent instance or launch template in modules/party');
  for (const [name, body, f] of parents) {
    const where = `${f.file}: ${name}`;
    const enclave = asList(body.enclave_options).map(asRecord);
    assert.equal(enclave.length, 1, `${where} has no enclave_options`);
    assert.equal(enclave[0]!.enabled, true, `${where} enclave_options.enabled is not true`);
    const md = asList(body.metadata_options).map(asRecord);
    assert.equal(md.length, 1, `${where} has no metadata_options`);
    assert.equal(md[0]!.http_tokens, 'required', `${where} allows IMDSv1`);
    assert.equal(md[0]!.http_put_response_hop_limit, 1, `${where} IMDS hop limit`);
    assert.equal(body.key_name, undefined, `${where} has an SSH key pair`);
    const roots = [
      ...asList(body.root_block_device).map(asRecord),
      ...asList(body.block_device_mappings).flatMap((m) => asList(asRecord(m).ebs).map(asRecord)),
    ];
    assert.ok(roots.length >= 1, `${where} does not declare its root volume`);
    for (const r of roots) assert.equal(r.encrypted, true, `${where} root volume is not encrypted`);
  }
  // The coordinators' launch template too: IMDSv2 and encrypted volumes.
  const coord = (await parsedFiles()).filter((f) => f.module === 'modules/coordinator');
  for (const [name, lt] of blocks(coord, 'resource', 'aws_launch_template')) {
    assert.equal(asRecord(asList(lt.metadata_options)[0]).http_tokens, 'required', name);
    for (const m of asList(lt.block_device_mappings)) {
      for (const ebs of asList(asRecord(m).ebs)) assert.equal(asRecord(ebs).encrypted, true, name);
    }
  }
});

test('terraform.tfvars.example parses and sets every required root variable', async () => {
  const files = await parsedFiles();
  const required = files
    .filter((f) => f.module === '.')
    .flatMap((f) =>
      Object.entries(asRecord(f.json.variable))
        .filter(([, bodies]) => asList(bodies).every((b) => !('default' in asRecord(b))))
        .map(([name]) => name),
    );
  assert.ok(required.includes('admitted_pcr0s'));
  const path = join(TF, 'terraform.tfvars.example');
  const example = asRecord(await parse(path, readFileSync(path, 'utf8')));
  for (const name of required)
    assert.ok(name in example, `terraform.tfvars.example does not set ${name}`);
  assert.equal(example.parties, 3);
  assert.equal(example.threshold, 2);
  const pcr0s = asList(example.admitted_pcr0s);
  assert.ok(pcr0s.length >= 1);
  for (const p of pcr0s) assert.match(String(p), /^[0-9a-f]{96}$/);
});
