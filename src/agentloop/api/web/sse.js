// Server-sent events over fetch(): EventSource cannot send an Authorization header, and the
// token must not go in a URL. Parses text/event-stream itself and reconnects with
// Last-Event-ID, so a resumed stream carries each item once.

import { ApiError, apiUrl, authFailed, authHeaders } from "./api.js";

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;
const HIDDEN_GRACE_MS = 15_000;

/** Incremental text/event-stream parser (WHATWG HTML, "Parsing an event stream"). */
export class EventStreamParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = "";
    this.afterCR = false;
    this.type = "";
    this.data = [];
    this.lastEventId = "";
    this.retry = null;
  }

  push(chunk) {
    if (!chunk) return;
    // A CR that ended the previous chunk may be the first half of a CRLF.
    if (this.afterCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.afterCR = chunk.endsWith("\r");
    this.buffer += chunk;
    const newline = /\r\n|\r|\n/g;
    let start = 0;
    let match;
    while ((match = newline.exec(this.buffer))) {
      this.line(this.buffer.slice(start, match.index));
      start = newline.lastIndex;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(text) {
    if (text === "") return this.dispatch();
    if (text.startsWith(":")) return; // a comment: keep-alive
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.type = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }

  dispatch() {
    const data = this.data;
    const type = this.type || "message";
    this.type = "";
    this.data = [];
    if (data.length === 0) return;
    this.onMessage({ type, data: data.join("\n"), lastEventId: this.lastEventId });
  }
}

/**
 * One SSE endpoint, read until closed. Callbacks:
 * - onMessage({type, data, lastEventId}) for each message;
 * - onState("open" | "reconnecting" | "ended" | "failed" | "suspended", detail);
 * - shouldReconnect(): after the server ended the stream normally, reconnect? (may be
 *   async; a network error always reconnects, with backoff). An ended stream restarts
 *   with `resume()`.
 */
export class EventStream {
  constructor(path, { lastEventId = "", onMessage, onState = () => {}, shouldReconnect = () => true }) {
    this.path = path;
    this.lastEventId = lastEventId;
    this.onMessage = onMessage;
    this.onState = onState;
    this.shouldReconnect = shouldReconnect;
    this.controller = null;
    this.running = false;
    this.suspended = false;
    this.resumeRequested = false;
    this.wake = null;
    this.hiddenTimer = null;
    this.onVisibility = null;
  }

  start() {
    if (this.running || !this.path) return this;
    this.running = true;
    this.suspended = false;
    this.controller = new AbortController();
    this.loop(this.controller.signal);
    if (!this.onVisibility) {
      this.onVisibility = () => this.visibilityChanged();
      document.addEventListener("visibilitychange", this.onVisibility);
    }
    return this;
  }

  /** Restart an ended stream from the last id seen; reconnect at once if it is waiting. */
  resume() {
    this.resumeRequested = true; // also wins over a shouldReconnect() answer in flight
    if (this.wake) this.wake();
    else if (!this.running && this.controller && document.visibilityState !== "hidden") this.start();
  }

  close() {
    this.running = false;
    this.controller?.abort();
    this.controller = null;
    this.path = null;
    clearTimeout(this.hiddenTimer);
    if (this.onVisibility) document.removeEventListener("visibilitychange", this.onVisibility);
  }

  // A browser allows six connections per host over HTTP/1.1, shared by all its tabs: a tab
  // left in the background lets its streams go, and picks them up (by last id) on return.
  visibilityChanged() {
    if (document.visibilityState === "hidden") {
      if (this.running && !this.hiddenTimer) {
        this.hiddenTimer = setTimeout(() => {
          this.hiddenTimer = null;
          this.suspend();
        }, HIDDEN_GRACE_MS);
      }
      return;
    }
    clearTimeout(this.hiddenTimer);
    this.hiddenTimer = null;
    if (this.suspended) this.start();
  }

  suspend() {
    if (!this.running) return;
    this.running = false;
    this.suspended = true;
    this.controller.abort();
    this.onState("suspended");
  }

  async loop(signal) {
    let delay = MIN_RETRY_MS;
    while (!signal.aborted) {
      let ended = false;
      try {
        ended = await this.readOnce(signal);
        delay = MIN_RETRY_MS;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          this.running = false;
          this.onState("failed", error);
          authFailed();
          return;
        }
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          this.running = false;
          this.onState("failed", error);
          return;
        }
        this.onState("reconnecting", error);
      }
      if (signal.aborted) return;
      if (ended) {
        this.resumeRequested = false;
        const again = await this.shouldReconnect();
        if (signal.aborted) return;
        if (!again && !this.resumeRequested) {
          this.running = false;
          this.onState("ended");
          return;
        }
      }
      await this.sleep(delay, signal);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  /**
   * For an ended stream: read what was stored since (`?follow=false`), e.g. the events
   * that follow a run's terminal one (worktree removal, postmortem).
   */
  async catchUp() {
    if (this.running || !this.controller || this.catchingUp) return;
    this.catchingUp = true;
    try {
      await this.readOnce(this.controller.signal, { follow: "false" }, false);
    } catch {
      /* the next catch-up, or a resumed stream, gets it */
    } finally {
      this.catchingUp = false;
    }
  }

  /** Read the stream until it ends: true when the server closed it normally. */
  async readOnce(signal, query = {}, announce = true) {
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (this.lastEventId) headers.set("Last-Event-ID", this.lastEventId);
    const response = await fetch(apiUrl(this.path, query), { headers, signal, cache: "no-store" });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new ApiError(response.status, (body && body.error) || response.statusText, body);
    }
    if (announce) this.onState("open");
    const parser = new EventStreamParser((message) => {
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      this.onMessage(message);
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        parser.push(value);
      }
    } finally {
      reader.releaseLock();
    }
  }

  sleep(ms, signal) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      this.wake = done;
    });
  }
}
