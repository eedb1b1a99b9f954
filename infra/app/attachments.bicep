// Attachments get a storage account of their own rather than the Functions host's: the host's account
// gives the app Storage Blob Data Owner on every container (its keys, locks and deployment package), which
// would cover attachments too, and CORS and Defender's per-GB scanning apply to a whole account. Browsers upload and download here directly (user-delegation SAS), so this account keeps its
// public endpoint even with private networking on.
param name string
param location string
param tags object = {}
@description('The private container that holds every attachment (ATTACHMENT_CONTAINER).')
param containerName string = 'attachments'
@description('Browser origins that may upload (PUT) and download (GET) with a signed URL: ALLOWED_ORIGINS.')
param allowedOrigins array
@description('Principal of the app identity: reads, writes and tags attachments, and signs URLs for them.')
param appPrincipalId string
@description('Defender for Storage scans each upload for malware and tags the blob with its verdict.')
param malwareScanning bool = false
@minValue(1)
@description('Most GB Defender scans a month (then it stops scanning until the next month).')
param malwareScanningCapGBPerMonth int = 1000

var roles = {
  // Blob read, write and delete plus index tags (tags/read), which Storage Blob Data Contributor
  // lacks: the app reads Defender's verdict tag.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    // No account key and no account or service SAS: only Entra requests and user-delegation SAS.
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    // A browser on an allowed origin PUTs the file (one request, or blocks and a block list) and GETs it.
    // Storage answers the preflight (OPTIONS) itself from these rules. A download reaches storage
    // through the API's redirect, and a cross-origin redirect turns the request's Origin into "null",
    // which no listed origin matches: the second rule lets any origin read (GET only) what a
    // read-only URL, itself the permission, names.
    cors: {
      corsRules: empty(allowedOrigins)
        ? []
        : [
            {
              allowedOrigins: allowedOrigins
              allowedMethods: ['GET', 'PUT']
              allowedHeaders: ['content-type', 'x-ms-blob-type', 'x-ms-*']
              exposedHeaders: ['etag', 'x-ms-*']
              maxAgeInSeconds: 3600
            }
            {
              allowedOrigins: ['*']
              allowedMethods: ['GET']
              allowedHeaders: ['range']
              exposedHeaders: ['etag', 'x-ms-*']
              maxAgeInSeconds: 3600
            }
          ]
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: containerName
  properties: { publicAccess: 'None' }
}

// No lifecycle rule: a rule selects blobs by type, name prefix and index tags (equality only, and never
// by exclusion), and nothing of those tells an upload never attached from a file a message holds (the
// blob's name is fixed when its upload URL is signed, and an upload URL that could tag would let the
// uploader forge Defender's verdict tag). The app's sweep is the cleanup (docs/deploy.md, Attachments).

// Data access at the container, the narrowest scope a data role takes.
resource appUsesAttachments 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: container
  name: guid(container.id, appPrincipalId, roles.storageBlobDataOwner)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Get User Delegation Key acts on the whole account, so Azure takes the Delegator role only at the account,
// its resource group or subscription; the account is the narrowest
// (https://learn.microsoft.com/rest/api/storageservices/create-user-delegation-sas#assign-permissions-with-rbac).
// A SAS it signs still allows no more than the container role above.
resource appSignsUrls 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: account
  name: guid(account.id, appPrincipalId, roles.storageBlobDelegator)
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
  }
}

// On-upload malware scanning: Defender writes the blob index tag "Malware Scanning scan result"
// ("No threats found" or "Malicious"); the app holds a download until it reads a clean one.
resource defender 'Microsoft.Security/defenderForStorageSettings@2022-12-01-preview' = if (malwareScanning) {
  scope: account
  name: 'current'
  properties: {
    isEnabled: true
    overrideSubscriptionLevelSettings: true
    malwareScanning: { onUpload: { isEnabled: true, capGBPerMonth: malwareScanningCapGBPerMonth } }
    sensitiveDataDiscovery: { isEnabled: false }
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output containerName string = container.name
