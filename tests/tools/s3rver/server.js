'use strict';

// Starts s3rver (the npm S3 emulator) on 127.0.0.1 for the CcieDr tests and prints one line
// "S3RVER_READY <port>" when it listens. Usage: node server.js <directory> [bucket ...]
//
// s3rver 3.7.1 does not implement three multipart calls that real S3 has and that the tests
// need to prove "no orphaned parts": AbortMultipartUpload (DELETE ?uploadId), ListMultipartUploads
// (GET ?uploads) and ListParts (GET ?uploadId); and UploadPart to an unknown upload must fail with
// NoSuchUpload as on S3 (s3rver would silently recreate the upload folder). They are added here as a Koa middleware that runs
// just before s3rver's router, behind s3rver's own signature check, on s3rver's own file layout
// (<dir>/<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,<partNumber>}).

const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');
const authentication = require('s3rver/lib/middleware/authentication');

const [directory, ...buckets] = process.argv.slice(2);
if (!directory) {
  console.error('usage: node server.js <directory> [bucket ...]');
  process.exit(2);
}

const uploadsDir = bucket => path.join(directory, bucket, '._S3rver_uploads');
const xmlEscape = s =>
  String(s).replace(/[<>&'"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]);
const error = (ctx, status, code, message) => {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
};
const readKey = dir => {
  try {
    return fs.readFileSync(path.join(dir, 'key'), 'utf8');
  } catch {
    return '';
  }
};
const partsOf = dir =>
  fs
    .readdirSync(dir)
    .filter(f => /^\d+$/.test(f))
    .map(f => ({ number: Number(f), size: fs.statSync(path.join(dir, f)).size, mtime: fs.statSync(path.join(dir, f)).mtime }))
    .sort((a, b) => a.number - b.number);

const auth = authentication();

async function multipartExtensions(ctx, next) {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
  if (!m) return next();
  const [, bucket, rawKey] = m;
  const key = rawKey ? decodeURIComponent(rawKey) : undefined;
  const isAbort = ctx.method === 'DELETE' && key && 'uploadId' in ctx.query;
  const isListUploads = ctx.method === 'GET' && !key && 'uploads' in ctx.query;
  const isListParts = ctx.method === 'GET' && key && 'uploadId' in ctx.query;
  const isUploadPart = ctx.method === 'PUT' && key && 'uploadId' in ctx.query && 'partNumber' in ctx.query;
  if (isUploadPart) {
    // Like S3 (and unlike s3rver, which would recreate the upload folder): no parts for an unknown or aborted upload.
    if (!fs.existsSync(path.join(uploadsDir(bucket), String(ctx.query.uploadId)))) {
      return error(ctx, 404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
    }
    return next();
  }
  if (!isAbort && !isListUploads && !isListParts) return next();

  ctx.params = { bucket, key };
  return auth(ctx, async () => {
    if (!fs.existsSync(path.join(directory, bucket))) return error(ctx, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (isListUploads) {
      const root = uploadsDir(bucket);
      const ids = fs.existsSync(root) ? fs.readdirSync(root) : [];
      const prefix = ctx.query.prefix || '';
      const uploads = ids
        .map(id => ({ id, key: readKey(path.join(root, id)), mtime: fs.statSync(path.join(root, id)).mtime }))
        .filter(u => u.key.startsWith(prefix));
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        `<Bucket>${xmlEscape(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
        `<Prefix>${xmlEscape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>` +
        uploads
          .map(
            u =>
              `<Upload><Key>${xmlEscape(u.key)}</Key><UploadId>${xmlEscape(u.id)}</UploadId>` +
              `<Initiated>${u.mtime.toISOString()}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
          )
          .join('') +
        '</ListMultipartUploadsResult>';
      return;
    }
    const dir = path.join(uploadsDir(bucket), String(ctx.query.uploadId));
    if (!fs.existsSync(dir)) return error(ctx, 404, 'NoSuchUpload', 'The specified multipart upload does not exist.');
    if (isAbort) {
      fs.rmSync(dir, { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${xmlEscape(ctx.query.uploadId)}</UploadId>` +
      '<IsTruncated>false</IsTruncated><MaxParts>1000</MaxParts>' +
      partsOf(dir)
        .map(p => `<Part><PartNumber>${p.number}</PartNumber><LastModified>${p.mtime.toISOString()}</LastModified><Size>${p.size}</Size></Part>`)
        .join('') +
      '</ListPartsResult>';
  });
}

const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  directory,
  silent: true,
  configureBuckets: buckets.map(name => ({ name })),
});
// Insert just before s3rver's router (its last middleware).
server.middleware.splice(server.middleware.length - 1, 0, multipartExtensions);

server.run().then(
  address => console.log(`S3RVER_READY ${address.port}`),
  err => {
    console.error(`s3rver failed to start: ${err.stack || err}`);
    process.exit(1);
  },
);

// Exit with the test process: when our stdin closes, the parent is gone.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
