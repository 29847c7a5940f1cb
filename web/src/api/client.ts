/** A small typed client of the API: bearer auth, JSON in and out, errors as ApiError. */
import type {
  CreditsPage,
  Display,
  Job,
  JobCreate,
  JobPage,
  Me,
  OutputUrls,
  PhraseList,
  Share,
  SharedSong,
  Token,
  Upload,
  UploadUrl,
  VoiceList,
} from './types';

/** Raised when the API answers with an error status; `detail` is the API's own sentence. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;

  constructor(status: number, detail: string) {
    super(`${status}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }
}

/** Raised when the API cannot be reached at all (offline, server down, CORS). */
export class NetworkError extends Error {
  constructor(cause: unknown) {
    super('the service cannot be reached', { cause });
    this.name = 'NetworkError';
  }
}

/** Returns a fresh bearer token (Firebase ID tokens expire after an hour and refresh themselves). */
export type TokenSource = () => Promise<string>;

type Fetch = typeof fetch;

/** Reads FastAPI's `{"detail": ...}`; validation errors (422) carry a list of {loc, msg}. */
export async function errorDetail(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { detail?: unknown };
    const detail = body.detail;
    if (typeof detail === 'string') return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).slice(1).join('.')}: ${d.msg ?? ''}`)
        .join('; ');
    }
  } catch {
    // Not JSON (a proxy's error page): fall through to the raw text.
  }
  return text.trim().slice(0, 200) || response.statusText || 'no detail';
}

/** The API at `base` ('' = same origin), authorised by `token`. */
export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: TokenSource,
    private readonly fetchImpl: Fetch = (...args) => fetch(...args),
  ) {}

  private async request<T>(path: string, init: RequestInit = {}, auth = true): Promise<T> {
    const headers = new Headers(init.headers);
    if (auth) headers.set('Authorization', `Bearer ${await this.token()}`);
    if (typeof init.body === 'string') headers.set('Content-Type', 'application/json');
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}${path}`, { ...init, headers });
    } catch (e) {
      throw new NetworkError(e);
    }
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    // 204 No Content (a delete): nothing to parse.
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** Local sign-in (embedded stack only). */
  signInLocal(uid: string): Promise<Token> {
    return this.request<Token>('/v1/auth/local', { method: 'POST', body: JSON.stringify({ uid }) }, false);
  }

  /** The installed voices (public: no sign-in needed). */
  voices(): Promise<VoiceList> {
    return this.request<VoiceList>('/v1/voices', {}, false);
  }

  /** An absolute URL for a path the API names (a voice's portraitUrl). */
  resolve(path: string): string {
    return /^https?:\/\//.test(path) ? path : `${this.base}${path}`;
  }

  me(): Promise<Me> {
    return this.request<Me>('/v1/me');
  }

  /** Upload a score through the API (multipart); small scores only (the API's size limit). */
  upload(file: File): Promise<Upload> {
    const form = new FormData();
    form.append('file', file, file.name);
    return this.request<Upload>('/v1/uploads', { method: 'POST', body: form });
  }

  /** Upload straight to storage with a signed PUT URL (production path: no bytes through the API). */
  async uploadSigned(file: File): Promise<Upload> {
    const target = await this.request<UploadUrl>('/v1/uploads/url', {
      method: 'POST',
      body: JSON.stringify({ filename: file.name }),
    });
    if (file.size > target.maxBytes) {
      throw new ApiError(413, `the file is larger than the ${target.maxBytes} byte limit`);
    }
    let response: Response;
    try {
      response = await this.fetchImpl(target.url, { method: 'PUT', headers: target.headers, body: file });
    } catch (e) {
      throw new NetworkError(e);
    }
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    // The verses, parts and title are read by the API from the stored score.
    try {
      return await this.uploadInfo(target.scoreId);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
        return { scoreId: target.scoreId, filename: file.name, size: file.size };
      }
      throw e;
    }
  }

  /** What the API read from a stored score of the caller's: title, verses and parts. */
  uploadInfo(scoreId: string): Promise<Upload> {
    return this.request<Upload>(`/v1/uploads/${encodeURIComponent(scoreId)}`);
  }

  createJob(body: JobCreate): Promise<Job> {
    return this.request<Job>('/v1/jobs', { method: 'POST', body: JSON.stringify(body) });
  }

  listJobs(limit = 20, before?: number): Promise<JobPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) query.set('before', String(before));
    return this.request<JobPage>(`/v1/jobs?${query.toString()}`);
  }

  job(id: string): Promise<Job> {
    return this.request<Job>(`/v1/jobs/${encodeURIComponent(id)}`);
  }

  output(id: string): Promise<OutputUrls> {
    return this.request<OutputUrls>(`/v1/jobs/${encodeURIComponent(id)}/output`);
  }

  /** The finished phrases of a job in flight, to play while the rest renders. */
  phrases(id: string): Promise<PhraseList> {
    return this.request<PhraseList>(`/v1/jobs/${encodeURIComponent(id)}/phrases`);
  }

  /** Renames a song. */
  rename(id: string, title: string): Promise<Job> {
    return this.request<Job>(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'PATCH', body: JSON.stringify({ title }) });
  }

  /** Deletes a song and its files (a job in flight is cancelled first). */
  deleteJob(id: string): Promise<void> {
    return this.request<void>(`/v1/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** A read-only link to a completed song (the same one while it is active). */
  share(id: string, expiresInDays = 30): Promise<Share> {
    return this.request<Share>(`/v1/jobs/${encodeURIComponent(id)}/share`, {
      method: 'POST',
      body: JSON.stringify({ expiresInDays }),
    });
  }

  /** Revokes a song's share link. */
  unshare(id: string): Promise<void> {
    return this.request<void>(`/v1/jobs/${encodeURIComponent(id)}/share`, { method: 'DELETE' });
  }

  /** A shared song, for anyone holding the token (no sign-in). */
  shared(token: string): Promise<SharedSong> {
    return this.request<SharedSong>(`/v1/shared/${encodeURIComponent(token)}`, {}, false);
  }

  /** Everything stored for the caller, as a zip (GET /v1/me/export). */
  async exportData(): Promise<Blob> {
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.base}/v1/me/export`, {
        headers: { Authorization: `Bearer ${await this.token()}` },
      });
    } catch (e) {
      throw new NetworkError(e);
    }
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    return response.blob();
  }

  /** Deletes the caller's account and everything stored for them. */
  deleteAccount(): Promise<void> {
    return this.request<void>('/v1/me', { method: 'DELETE' });
  }

  /** The caller's credit ledger, newest first. */
  credits(limit = 20, before?: number): Promise<CreditsPage> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) query.set('before', String(before));
    return this.request<CreditsPage>(`/v1/me/credits?${query.toString()}`);
  }

  cancel(id: string): Promise<Job> {
    return this.request<Job>(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  /** The display JSON behind a signed URL (no bearer: the URL is the credential). */
  async display(url: string): Promise<Display> {
    let response: Response;
    try {
      response = await this.fetchImpl(url);
    } catch (e) {
      throw new NetworkError(e);
    }
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    return (await response.json()) as Display;
  }

  /**
   * A URL that opens the caller's event stream. EventSource cannot set headers, so the URL carries a
   * ticket (never the bearer token): single-purpose, for this user only, valid about a minute to open.
   */
  async eventsUrl(): Promise<string> {
    const { ticket } = await this.request<{ ticket: string }>('/v1/events/ticket', { method: 'POST' });
    return `${this.base}/v1/events?ticket=${encodeURIComponent(ticket)}`;
  }
}
