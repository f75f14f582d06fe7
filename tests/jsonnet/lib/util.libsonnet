{ labels: { origin: 'lib' } }
