// The records the simulated world hands out, in AWS's own field names, and the ground truth kept beside them.
// Types and constants only. Times are epoch milliseconds.

export const EXHAUSTION_MESSAGE = 'The specified subnet does not have enough free addresses to satisfy the request.';
/** The AWS-managed account that owns Glue's ENIs and the hidden instances they attach to. */
export const GLUE_SERVICE_ACCOUNT = '571637286534';
export const GLUE_VERSION = '4.0';

// ---- Records in AWS's own field names ----

export interface Subnet {
  SubnetId: string;
  CidrBlock: string;
  AvailabilityZone: string;
  VpcId: string;
  State: 'available';
  AvailableIpAddressCount: number;
  OwnerId: string;
  SubnetArn: string;
  /** Not AWS: the scenario's name for the subnet, and its size. */
  name?: string;
  usable: number;
}

export interface NetworkInterface {
  NetworkInterfaceId: string;
  SubnetId: string;
  VpcId: string;
  AvailabilityZone: string;
  Description: string;
  InterfaceType: 'interface';
  MacAddress: string;
  OwnerId: string;
  PrivateDnsName: string;
  PrivateIpAddress: string;
  PrivateIpAddresses: { PrivateIpAddress: string; Primary: boolean; PrivateDnsName: string }[];
  RequesterId?: string;
  RequesterManaged: boolean;
  SourceDestCheck: boolean;
  Status: 'in-use' | 'available';
  Groups: { GroupId: string; GroupName: string }[];
  Attachment?: {
    AttachmentId: string;
    AttachTime: number;
    DeleteOnTermination: boolean;
    DeviceIndex: number;
    NetworkCardIndex: number;
    InstanceId?: string;
    InstanceOwnerId: string;
    Status: 'attached';
  };
}

export interface Connection {
  Name: string;
  ConnectionType: 'NETWORK';
  PhysicalConnectionRequirements: { SubnetId: string; SecurityGroupIdList: string[]; AvailabilityZone: string };
  ConnectionProperties: Record<string, string>;
  CreationTime: number;
  LastUpdatedTime: number;
}

export interface Job {
  Name: string;
  Role: string;
  Command: { Name: 'glueetl'; ScriptLocation: string; PythonVersion: '3' };
  Connections: { Connections: string[] };
  NumberOfWorkers: number;
  WorkerType: string;
  GlueVersion: string;
  MaxRetries: number;
  Timeout: number;
  ExecutionProperty: { MaxConcurrentRuns: number };
  CreatedOn: number;
  LastModifiedOn: number;
  /** Not AWS: the scenario's schedule, if any. */
  schedule?: string;
}

export type JobRunState = 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export interface JobRun {
  Id: string;
  Attempt: number;
  JobName: string;
  JobRunState: JobRunState;
  StartedOn: number;
  LastModifiedOn: number;
  CompletedOn?: number;
  /** Seconds. */
  ExecutionTime: number;
  ErrorMessage?: string;
  NumberOfWorkers: number;
  WorkerType: string;
  GlueVersion: string;
  Timeout: number;
  /** Not AWS: what started it. */
  source: LaunchSource;
}

// ---- Ground truth, for tests and backtests ----

export interface EniTruth {
  id: string;
  subnetId: string;
  owner: 'glue' | 'other';
  jobName?: string;
  jobRunId?: string;
  /** Created at launch (status available, no attachment), attached a few seconds later (in-use). */
  createdAt: number;
  attachedAt?: number;
  /** When the owning run ended (set once it has). */
  runEndedAt?: number;
  /** Drawn at launch: time in-use after the run ends, then time available before deletion. */
  lingerMs?: number;
  availableMs?: number;
  detachedAt?: number;
  deletedAt?: number;
  deletedBy?: 'glue' | 'api';
}

export type LaunchSource = 'schedule' | 'adhoc' | 'api';

export interface LaunchRequest {
  id: string;
  jobName: string;
  dueAt: number;
  workers: number;
  source: 'schedule' | 'adhoc';
}
