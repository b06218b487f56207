// ENIs and the addresses they hold: allocation, creation, attachment and removal. Shared by the world's
// construction (the non-Glue ENIs it starts with) and its launches (Glue's), so both draw ids the same way.
import { ipToString } from './cidr.js';
import type { EniTruth, NetworkInterface, Subnet } from './records.js';
import type { EniState, SubnetState, WorldState } from './state.js';

export interface Attachment {
  instanceId?: string;
  ownerId: string;
  deleteOnTermination: boolean;
  deviceIndex: number;
}

export interface NewEni {
  description: string;
  requesterManaged: boolean;
  groups: { GroupId: string; GroupName: string }[];
  attachment?: Attachment;
  truth: Pick<EniTruth, 'owner' | 'jobName' | 'jobRunId' | 'lingerMs' | 'availableMs'>;
  at: number;
}

/** Take a seeded random free address of the subnet (swap-remove). */
export function allocate(subnet: SubnetState): number {
  const i = subnet.rng.int(0, subnet.free.length - 1);
  const ip = subnet.free[i];
  subnet.free[i] = subnet.free[subnet.free.length - 1];
  subnet.free.pop();
  return ip;
}

/** A new ENI holding `ips`: available and unattached, as CreateNetworkInterface leaves it, unless `o.attachment`. */
export function createEni(w: WorldState, subnet: SubnetState, ips: number[], o: NewEni): EniState {
  const { scenario } = w;
  const id = `eni-0${w.ids.hex(16)}`;
  const mac = `0e:${w.ids.hex(10).match(/../g)!.join(':')}`;
  const dns = (ip: number) =>
    `ip-${ipToString(ip).replaceAll('.', '-')}.${scenario.region === 'us-east-1' ? 'ec2.internal' : `${scenario.region}.compute.internal`}`;
  const view: NetworkInterface = {
    NetworkInterfaceId: id,
    SubnetId: subnet.id,
    VpcId: scenario.vpcId,
    AvailabilityZone: subnet.az,
    Description: o.description,
    InterfaceType: 'interface',
    MacAddress: mac,
    OwnerId: scenario.account,
    PrivateDnsName: dns(ips[0]),
    PrivateIpAddress: ipToString(ips[0]),
    PrivateIpAddresses: ips.map((ip, i) => ({ PrivateIpAddress: ipToString(ip), Primary: i === 0, PrivateDnsName: dns(ip) })),
    RequesterId: o.requesterManaged ? `AROA${w.ids.hex(17).toUpperCase()}:glue-${w.ids.hex(8)}` : undefined,
    RequesterManaged: o.requesterManaged,
    SourceDestCheck: true,
    Status: 'available',
    Groups: o.groups,
  };
  const truth: EniTruth = { id, subnetId: subnet.id, createdAt: o.at, ...o.truth };
  const state: EniState = { view, ips, truth };
  w.enis.set(id, state);
  w.enisVersion++;
  w.truth.push(truth);
  w.emit({ type: 'eni-created', at: o.at, eniId: id, subnetId: subnet.id });
  if (o.attachment) attachEni(w, state, o.attachment);
  return state;
}

/** Attach now: in-use. */
export function attachEni(w: WorldState, e: EniState, a: Attachment): void {
  w.enisVersion++;
  e.view.Status = 'in-use';
  e.view.Attachment = {
    AttachmentId: `eni-attach-0${w.ids.hex(16)}`,
    AttachTime: w.t,
    DeleteOnTermination: a.deleteOnTermination,
    DeviceIndex: a.deviceIndex,
    NetworkCardIndex: 0,
    InstanceId: a.instanceId,
    InstanceOwnerId: a.ownerId,
    Status: 'attached',
  };
  e.truth.attachedAt = w.t;
}

/** Delete now, giving its addresses back to the subnet. */
export function removeEni(w: WorldState, e: EniState, by: 'glue' | 'api'): void {
  const subnet = w.subnets.get(e.view.SubnetId)!;
  for (const ip of e.ips) subnet.free.push(ip);
  w.enis.delete(e.view.NetworkInterfaceId);
  w.enisVersion++;
  e.truth.deletedAt = w.t;
  e.truth.deletedBy = by;
  w.emit({ type: 'eni-deleted', at: w.t, eniId: e.view.NetworkInterfaceId, subnetId: subnet.id });
}

/** DescribeSubnets' record of a subnet. */
export function subnetView(w: WorldState, s: SubnetState): Subnet {
  const { scenario } = w;
  return {
    SubnetId: s.id,
    CidrBlock: s.cidr,
    AvailabilityZone: s.az,
    VpcId: scenario.vpcId,
    State: 'available',
    AvailableIpAddressCount: s.free.length,
    OwnerId: scenario.account,
    SubnetArn: `arn:aws:ec2:${scenario.region}:${scenario.account}:subnet/${s.id}`,
    name: s.name,
    usable: s.parsed.usable,
  };
}
