import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, errorDetail, NetworkError } from '../src/api/client';

const voice = {
  name: 'alto',
  author: 'A. Singer',
  description: null,
  languages: ['zh'],
  speakers: ['soft', 'bright'],
  stages: ['duration', 'pitch', 'acoustic', 'vocoder'],
  licence: 'CC BY-NC-SA 4.0',
  portraitUrl: '/v1/voices/alto/portrait',
};

/** A real HTTP server answering as FastAPI does, recording what it was sent. */
let server: Server;
let base = '';
const seen: { method: string; url: string; auth: string | undefined; type: string | undefined; body: string }[] = [];

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => resolve(text));
  });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, type: req.headers['content-type'], body: await body(req) });
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    if (req.url === '/v1/jobs' && req.method === 'POST') return send(402, { detail: 'a final render reserves 18 credits' });
    if (req.url?.startsWith('/v1/jobs?')) return send(200, { jobs: [], nextBefore: null });
    if (req.url === '/v1/voices') return send(200, { voices: [voice] });
    if (req.url === '/v1/uploads') return send(201, { scoreId: 'a'.repeat(32), filename: 'twinkle.musicxml', size: 5 });
    return send(404, { detail: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('ApiClient', () => {
  it('lists the voices without a token and resolves their portraits against the API', async () => {
    const client = new ApiClient(base, () => Promise.reject(new Error('no token needed')));
    expect(await client.voices()).toEqual({ voices: [voice] });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/v1/voices', auth: undefined });
    expect(client.resolve(voice.portraitUrl)).toBe(`${base}/v1/voices/alto/portrait`);
    expect(client.resolve('https://cdn.example/p.png')).toBe('https://cdn.example/p.png');
  });

  it('sends the bearer token and the query', async () => {
    const client = new ApiClient(base, () => Promise.resolve('tok-1'));
    expect(await client.listJobs(5, 123.5)).toEqual({ jobs: [], nextBefore: null });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: '/v1/jobs?limit=5&before=123.5', auth: 'Bearer tok-1' });
  });

  it('uploads the score as the multipart field `file`', async () => {
    const client = new ApiClient(base, () => Promise.resolve('tok-2'));
    const upload = await client.upload(new File(['<xml/>'], 'twinkle.musicxml'));
    expect(upload.filename).toBe('twinkle.musicxml');
    const request = seen.at(-1);
    expect(request?.type).toMatch(/^multipart\/form-data; boundary=/);
    expect(request?.body).toContain('name="file"; filename="twinkle.musicxml"');
  });

  it('raises ApiError with the status and the API detail', async () => {
    const client = new ApiClient(base, () => Promise.resolve('tok-3'));
    const error = await client.createJob({ scoreId: 'a'.repeat(32), renderType: 'final' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 402, detail: 'a final render reserves 18 credits' });
    expect(seen.at(-1)?.type).toBe('application/json');
    expect(JSON.parse(seen.at(-1)?.body ?? '')).toEqual({ scoreId: 'a'.repeat(32), renderType: 'final' });
  });

  it('raises NetworkError when nothing answers', async () => {
    const client = new ApiClient('http://127.0.0.1:9', () => Promise.resolve('t'));
    await expect(client.me()).rejects.toBeInstanceOf(NetworkError);
  });
});

describe('errorDetail', () => {
  it('reads string details, validation lists and non-JSON bodies', async () => {
    expect(await errorDetail(new Response(JSON.stringify({ detail: 'no upload' }), { status: 404 }))).toBe('no upload');
    const validation = { detail: [{ loc: ['body', 'scoreId'], msg: 'String should match pattern' }] };
    expect(await errorDetail(new Response(JSON.stringify(validation), { status: 422 }))).toBe('scoreId: String should match pattern');
    expect(await errorDetail(new Response('<h1>Bad gateway</h1>', { status: 502 }))).toBe('<h1>Bad gateway</h1>');
  });
});
