local nothing = import 'nowhere.libsonnet';
nothing
