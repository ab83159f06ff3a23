/**
 * Guests that break the bridge protocol, played by small Python scripts in
 * place of the shim: each is a permanent GUEST_PROTOCOL error (or a crash)
 * and nothing of the guest is left running.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BridgeOutcome, BridgeRunSpec } from '../../services/worker/bridge/types';
import { assertCleanedUp, useBridgeHarness } from '../helpers/bridge-harness';

describe('bridge host with misbehaving guests', function () {
  this.timeout(180_000);
  const h = useBridgeHarness('bridge-protocol-test-', 'id,name,score\n1,ada,9.5\n2,grace,8.25\n3,linus,7\n');

  /** A stand-in shim: a small Python script that speaks (or breaks) the protocol. */
  function fakeShim(name: string, body: string): string {
    const file = path.join(h.work, `${name}.py`);
    const prelude = [
      'import json, os, socket, struct, sys, time',
      'sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)',
      'sock.connect(os.environ["CASPARIAN_BRIDGE_SOCKET"])',
      'TOKEN = os.environ["CASPARIAN_BRIDGE_TOKEN"]',
      'def frame(kind, payload): sock.sendall(struct.pack(">BI", kind, len(payload)) + payload)',
      'def jframe(kind, obj): frame(kind, json.dumps(obj).encode())',
      'def hello(token=None): jframe(0x10, {"token": token or TOKEN, "pid": os.getpid(), "python_version": "3", "pyarrow_version": None})',
      '',
    ].join('\n');
    fs.writeFileSync(file, prelude + body);
    return file;
  }

  async function runFake(name: string, body: string, over: Partial<BridgeRunSpec> = {}) {
    return h.run('', undefined, { shimPath: fakeShim(name, body), ...over });
  }

  function assertProtocol(outcome: BridgeOutcome, pattern: RegExp): void {
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.errorClass, 'protocol');
    assert.equal(outcome.error?.code, 'GUEST_PROTOCOL');
    assert.equal(outcome.error?.retryable, false);
    assert.match(outcome.error!.message, pattern);
    assertCleanedUp(outcome);
  }

  it('garbage bytes', async () => {
    const { outcome } = await runFake('garbage', 'sock.sendall(b"\\xde\\xad\\xbe\\xef" * 64)\ntime.sleep(60)\n');
    assertProtocol(outcome, /unknown frame kind 0xde|exceeds/);
  });

  it('a wrong token', async () => {
    const { outcome } = await runFake('wrong_token', 'hello("0" * 64)\ntime.sleep(60)\n');
    assertProtocol(outcome, /wrong token/);
  });

  it('a first frame that is not HELLO', async () => {
    const { outcome } = await runFake('no_hello', 'jframe(0x14, {"level": "info", "message": "hi"})\ntime.sleep(60)\n');
    assertProtocol(outcome, /first frame must be HELLO/);
  });

  it('ARROW before OUTPUT_BEGIN', async () => {
    const { outcome } = await runFake('early_arrow', 'hello()\nframe(0x12, b"abcd")\ntime.sleep(60)\n');
    assertProtocol(outcome, /ARROW frame outside of an output/);
  });

  it('an oversized frame', async () => {
    const { outcome } = await runFake('oversized', 'hello()\nsock.sendall(struct.pack(">BI", 0x14, 5 * 1024 * 1024))\ntime.sleep(60)\n');
    assertProtocol(outcome, /exceeds the 4194304-byte frame limit/);
  });

  it('bad JSON', async () => {
    const { outcome } = await runFake('bad_json', 'hello()\nframe(0x14, b"{not json")\ntime.sleep(60)\n');
    assertProtocol(outcome, /not UTF-8 JSON/);
  });

  it('DONE with an output still open', async () => {
    const { outcome } = await runFake(
      'open_output',
      'hello()\njframe(0x11, {"name": "a"})\njframe(0x18, {"rows": 0, "outputs": []})\ntime.sleep(60)\n',
    );
    assertProtocol(outcome, /still open: a/);
  });

  it('hanging up without a verdict, then exiting', async () => {
    const { outcome } = await runFake('hang_up', 'hello()\nsock.close()\nsys.exit(0)\n');
    assert.equal(outcome.error?.code, 'GUEST_CRASHED');
    assert.match(outcome.error!.message, /exited with code 0 before DONE or ERROR/);
  });

  it('a fake guest that follows the protocol succeeds (the fakes are not rejected for being fakes)', async () => {
    const { outcome } = await runFake(
      'polite',
      [
        'hello()',
        'kind, n = struct.unpack(">BI", sock.recv(5, socket.MSG_WAITALL))',
        'spec = json.loads(sock.recv(n, socket.MSG_WAITALL))',
        'assert kind == 0x01 and spec["plugin_name"] == "test_plugin", spec',
        'jframe(0x16, {"x": 1.5})',
        'jframe(0x18, {"rows": 0, "outputs": []})',
        '',
      ].join('\n'),
    );
    assert.equal(outcome.status, 'succeeded', JSON.stringify(outcome.error));
    assert.equal(outcome.exitCode, 0);
  });
});
