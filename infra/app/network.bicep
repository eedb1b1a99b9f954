// Private networking (PRIVATE_NETWORKING=true): a virtual network the Function App joins (Flex Consumption
// VNet integration), and a private endpoint, with its private DNS zone, for each service the app calls. The
// app then resolves those services' names to addresses in this network; the services' public endpoints
// are closed in their own modules.
param name string
param location string
param tags object = {}
param postgresServerId string
param keyVaultId string
param hostStorageId string
param attachmentsStorageId string
param webPubSubId string

// Flex Consumption takes one address per instance, old and new ones side by side during a deploy: a /23
// holds 2 x 250 instances. Private endpoints need an address each.
var appSubnetPrefix = '10.0.0.0/23'
var privateEndpointSubnetPrefix = '10.0.2.0/27'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: ['10.0.0.0/16'] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          // The delegation Flex Consumption VNet integration requires.
          delegations: [{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

// One endpoint per service: its group id and the private DNS zone Azure publishes for it.
var endpoints = [
  { name: 'postgres', target: postgresServerId, groupId: 'postgresqlServer', zone: 'privatelink.postgres.database.azure.com' }
  { name: 'keyvault', target: keyVaultId, groupId: 'vault', zone: 'privatelink.vaultcore.azure.net' }
  { name: 'host-storage', target: hostStorageId, groupId: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'attachments', target: attachmentsStorageId, groupId: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'webpubsub', target: webPubSubId, groupId: 'webpubsub', zone: 'privatelink.webpubsub.azure.com' }
]
var zoneNames = union(map(endpoints, endpoint => endpoint.zone), [])

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in zoneNames: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in zoneNames: {
    parent: zones[i]
    name: 'vnet'
    location: 'global'
    tags: tags
    properties: {
      virtualNetwork: { id: vnet.id }
      registrationEnabled: false
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: 'pe-${endpoint.name}-${uniqueString(vnet.id)}'
    location: location
    tags: tags
    properties: {
      subnet: { id: vnet.properties.subnets[1].id }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: { privateLinkServiceId: endpoint.target, groupIds: [endpoint.groupId] }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(endpoint.zone, '.', '-')
          properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', endpoint.zone) }
        }
      ]
    }
    dependsOn: [zones]
  }
]

output appSubnetId string = vnet.properties.subnets[0].id
