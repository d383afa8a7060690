"""canaria.dashboard"""
