param name string
param location string
param tags object = {}
param databaseName string
@description('Compute size, e.g. Standard_B1ms (Burstable) or Standard_D2ds_v5 (GeneralPurpose).')
param skuName string = 'Standard_B1ms'
@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param skuTier string = 'Burstable'
param version string = '16'
@description('The server parameter max_connections for this size; a change takes effect at the next restart.')
@minValue(25)
@maxValue(5000)
param maxConnections int
param storageSizeGB int = 32
param storageAutoGrow bool = true
@description('The app identity: a Microsoft Entra administrator that signs in with a token and owns the database.')
param appIdentityName string
param appIdentityPrincipalId string
@description('The person running the deployment: a second administrator for hands-on access. Empty name: none.')
param deployerObjectId string = ''
param deployerUserPrincipalName string = ''
@description('Log Analytics workspace that receives its logs (diagnostic settings).')
param logAnalyticsWorkspaceId string
@description('Private networking: the public endpoint is closed and the app reaches this through a private endpoint (app/network.bicep).')
param privateNetworking bool = false

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName, tier: skuTier }
  properties: {
    version: version
    // Premium SSD; the performance tier (IOPS) is the one of the size unless set.
    storage: { storageSizeGB: storageSizeGB, autoGrow: storageAutoGrow ? 'Enabled' : 'Disabled' }
    // Microsoft Entra only: no administrator login, no password anywhere.
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    highAvailability: { mode: 'Disabled' }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    network: { publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled' }
  }
}

// The server accepts one change at a time, so every child below waits for the previous one.

// 0.0.0.0 to 0.0.0.0 is the documented rule for "allow public access from any Azure service". It stays
// without private networking: a Flex Consumption app outside a virtual network has no outbound addresses
// of its own (they are shared and change as it scales), and a firewall rule takes addresses only, so
// the alternative to it is private networking (docs/deploy.md, "Private networking"). Sign-in stays
// Entra-only over TLS either way.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!privateNetworking) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: { value: 'on', source: 'user-override' }
  dependsOn: [allowAzureServices]
}

// A static parameter: on an existing server the new value waits for a restart (the size change itself
// restarts the server before this runs, so restart once more after a POSTGRES_SKU change). On a new
// server it equals the size's default, so nothing is pending.
resource connectionLimit 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'max_connections'
  properties: { value: string(maxConnections), source: 'user-override' }
  dependsOn: [requireTls]
}

// The extensions the migrations create (CREATE EXTENSION), which Azure allows only once listed here:
// btree_gist for the index of the since and until filters (migration 24). Dynamic: no restart. Set
// before the database exists, and so before the app, which migrates at start, can reach it.
resource allowedExtensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: { value: 'BTREE_GIST', source: 'user-override' }
  dependsOn: [connectionLimit]
}

resource appAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: appIdentityPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: appIdentityName
    tenantId: tenant().tenantId
  }
  dependsOn: [allowedExtensions]
}

// Created after the app's administrator exists, so that administrator owns it (and, on PostgreSQL 15+,
// its public schema): the app creates its own tables. Created before any administrator exists,
// the database would belong to the platform's superuser and the app could create nothing in it.
resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
  dependsOn: [appAdmin]
}

resource deployerAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(deployerObjectId) && !empty(deployerUserPrincipalName)) {
  parent: server
  name: deployerObjectId
  properties: {
    principalType: 'User'
    principalName: deployerUserPrincipalName
    tenantId: tenant().tenantId
  }
  dependsOn: [database]
}

// Its logs go to the Log Analytics workspace (ingestion is billed per GB: docs/deploy.md).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: server
  name: 'to-log-analytics'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

output id string = server.id
output serverName string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
