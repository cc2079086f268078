/**
 * Security headers (helmet) and the CORS allow-list (CORS_ORIGINS) shared by
 * REST and Socket.IO. Tokens travel as bearer headers or in the Socket.IO
 * handshake, never in cookies, so the allow-list is about which other web
 * apps may call a node from a browser, not about CSRF.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import helmet from 'helmet';
import type { Config } from '../config.js';

type SecurityConfig = Pick<Config, 'publicUrl' | 'corsOrigins'>;

/**
 * The CSP is what the Vite-built Monaco client needs and no more: scripts and
 * workers from the node itself (Vite emits workers as files; blob: covers a
 * build that inlines them), inline styles (Monaco sets style attributes and
 * injects <style> elements), data: fonts and images (the codicon font, the
 * favicon), and connections back to the node (same-origin ws/wss included).
 */
export function securityHeaders(config: SecurityConfig): RequestHandler {
  const https = config.publicUrl?.startsWith('https://') ?? false;
  const connect = ["'self'"];
  if (config.publicUrl) connect.push(config.publicUrl.replace(/^http/, 'ws'));
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        workerSrc: ["'self'", 'blob:'],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: connect,
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Only when the node is known to be reached over https, and never for other subdomains.
    strictTransportSecurity: https ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    // A foreign allow-listed origin must be able to read REST answers.
    crossOriginResourcePolicy: { policy: config.corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** Is a browser request from `origin` allowed? Same origin always; others only if listed. */
export function isAllowedOrigin(req: IncomingMessage, config: SecurityConfig): boolean {
  const origin = req.headers.origin;
  // Non-browser clients send no Origin: their token is what authorises them.
  if (origin === undefined) return true;
  if (config.corsOrigins.includes('*') || config.corsOrigins.includes(origin)) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  if (host === req.headers.host) return true;
  return config.publicUrl !== undefined && new URL(config.publicUrl).origin === origin;
}

/** CORS for /api: answers preflights and labels answers for allow-listed origins only. */
export function corsForApi(config: SecurityConfig): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined && config.corsOrigins.length > 0 && isAllowedOrigin(req, config)) {
      res.set('Access-Control-Allow-Origin', config.corsOrigins.includes('*') ? '*' : origin);
      res.vary('Origin');
      if (req.method === 'OPTIONS') {
        res.set('Access-Control-Allow-Methods', 'GET, POST, DELETE');
        res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        res.set('Access-Control-Max-Age', '600');
        res.status(204).end();
        return;
      }
    }
    next();
  };
}

/** Socket.IO's own CORS option, for the long-polling transport (WebSocket has no CORS: see the handshake guard). */
export function socketIoCors(config: SecurityConfig): { origin: string[] | boolean } | undefined {
  if (config.corsOrigins.length === 0) return undefined;
  return { origin: config.corsOrigins.includes('*') ? true : [...config.corsOrigins] };
}
