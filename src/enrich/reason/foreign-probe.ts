/**
 * EC2 IMDS paths: `/`, `/latest/...`, `/1.0/...` and dated API versions
 * (`/2021-03-23/...`). Agents that detect their cloud also send token-less GETs for
 * other clouds' metadata to 169.254.169.254 (Azure `/metadata/instance`, GCP
 * `/computeMetadata/v1/`, OpenStack `/openstack/`, Oracle `/opc/v2/`, DigitalOcean
 * `/metadata/v1.json`, ...). Those are not EC2 IMDS use: under IMDSv2-only they get 401
 * instead of 404 and break nothing (aws/aws-imds-packet-analyzer issue #18 suggests
 * counting only the EC2 prefixes).
 */
const EC2_PATH = /^\/(?:$|latest(?:\/|$)|1\.0(?:\/|$)|\d{4}-\d{2}-\d{2}(?:\/|$))/;

/**
 * true when `path` (origin-form, no query) is outside the EC2 metadata tree. Leading
 * slashes are collapsed first: @aws-sdk/ec2-metadata-service 3.1164.0 joins its endpoint
 * and the path into `//latest/meta-data/...` (pcaps/real/js-v3-ec2-metadata-service.pcap),
 * which IMDS serves as `/latest/...`.
 */
export function isForeignCloudPath(path: string): boolean {
  return !EC2_PATH.test(path.replace(/^\/{2,}/, '/'));
}
