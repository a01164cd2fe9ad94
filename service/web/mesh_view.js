// SPDX-License-Identifier: MIT
// One mesh drawn with three.js, as TensorBoard's mesh viewer draws it: a triangle mesh with
// vertex colours (or a grey standard material) under an ambient and a directional light, or a
// point cloud when there are no faces; a perspective camera fitted to the mesh, turned with
// three's OrbitControls. It draws on demand (after a change), not in a loop, so that a page
// of cards costs nothing while nobody touches them.

import * as THREE from './three.module.js';
import { OrbitControls } from './OrbitControls.js';
import { MESH_MATERIALS } from './mesh_data.js';

export function webglAvailable() {
  try {
    const c = document.createElement('canvas');
    return !!(c.getContext('webgl2') || c.getContext('webgl'));
  } catch (e) {
    return false;
  }
}

export class MeshView {
  // el: the element the canvas goes in; config: sceneConfig(...); runColor: a CSS colour for
  // point clouds without colours; onLost: called when the browser drops the WebGL context.
  constructor(el, config, runColor, onLost) {
    this.el = el;
    this.config = config;
    this.runColor = runColor;
    this.renders = 0;
    // preserveDrawingBuffer: the picture can be read back (the browser tests do, and so does
    // a right-click "save image")
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(2, window.devicePixelRatio || 1));
    this.renderer.setClearColor(0xffffff, 1);
    this.canvas = this.renderer.domElement;
    this.canvas.className = 'mesh-canvas';
    this.lost = (e) => { e.preventDefault(); if (onLost) setTimeout(onLost, 0); };
    this.canvas.addEventListener('webglcontextlost', this.lost);
    el.append(this.canvas);
    const cam = config.camera;
    this.camera = new THREE.PerspectiveCamera(cam.fov, 1, cam.near, cam.far || 1000);
    this.scene = new THREE.Scene();
    this.controls = new OrbitControls(this.camera, this.canvas);
    this.controls.addEventListener('change', () => this.render());
    this.object = null;
    this.addLights();
    this.resize();
    // the card's width follows the window (and Enlarge): the canvas follows it
    // (in the next frame: resizing inside the callback would change what it observes)
    this.ro = new ResizeObserver(() => requestAnimationFrame(() => {
      if (this.renderer && Math.max(100, el.clientWidth || 400) !== this.width) this.resize();
    }));
    this.ro.observe(el);
  }

  addLights() {
    const lights = this.config.lights || [
      { cls: 'AmbientLight', color: '#ffffff', intensity: 0.75 },
      { cls: 'DirectionalLight', color: '#ffffff', intensity: 0.75, position: [0, -1, 2] },
    ];
    for (const l of lights) {
      const light = new THREE[l.cls](l.color, l.intensity); // l.cls is one of mesh_data.js's LIGHTS
      if (l.position) light.position.set(...l.position);
      this.scene.add(light);
    }
  }

  // data: buildMesh(...)'s answer. keepCamera: leave the view where the reader turned it (a
  // new step of the same mesh), else fit the camera to the mesh.
  setMesh(data, keepCamera) {
    if (this.object) {
      this.scene.remove(this.object);
      this.object.geometry.dispose();
      this.object.material.dispose();
      this.object = null;
    }
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', new THREE.BufferAttribute(data.positions, 3));
    if (data.colors) g.setAttribute('color', new THREE.BufferAttribute(data.colors, 3));
    const m = this.config.material;
    if (data.index) {
      g.setIndex(new THREE.BufferAttribute(data.index, 1));
      g.center(); // as TensorBoard does for meshes (json_config cameras assume it)
      g.computeVertexNormals();
      const cls = MESH_MATERIALS.has(m.cls) ? m.cls : 'MeshStandardMaterial';
      const opts = { color: m.color || '#a0a0a0', side: THREE.DoubleSide };
      if (cls === 'MeshStandardMaterial') Object.assign(opts, { roughness: 1, metalness: 0 });
      for (const k of ['roughness', 'metalness', 'opacity', 'transparent', 'wireframe', 'flatShading', 'shininess'])
        if (m[k] !== undefined && (k !== 'roughness' && k !== 'metalness' || cls === 'MeshStandardMaterial') && (k !== 'shininess' || cls === 'MeshPhongMaterial')) opts[k] = m[k];
      if (data.colors) { opts.vertexColors = true; opts.color = '#ffffff'; }
      if (cls === 'MeshNormalMaterial') { delete opts.color; delete opts.vertexColors; }
      this.object = new THREE.Mesh(g, new THREE[cls](opts));
      this.mode = 'mesh';
    } else {
      g.computeBoundingBox();
      const size = new THREE.Vector3();
      g.boundingBox.getSize(size);
      const span = Math.max(size.x, size.y, size.z) || 1;
      const opts = { size: m.size !== undefined ? m.size : span / 150, sizeAttenuation: m.sizeAttenuation !== false };
      if (data.colors) opts.vertexColors = true;
      else opts.color = m.color || this.runColor;
      this.object = new THREE.Points(g, new THREE.PointsMaterial(opts));
      this.mode = 'points';
    }
    this.scene.add(this.object);
    if (!keepCamera) this.fit();
    this.render();
  }

  // TensorBoard's fit: the camera on the z axis at 1.25 times the distance that shows the
  // mesh's largest side, unless json_config gives a position or a point to look at.
  fit() {
    const box = new THREE.Box3().setFromObject(this.object);
    const center = new THREE.Vector3(), size = new THREE.Vector3();
    if (box.isEmpty()) { box.set(new THREE.Vector3(-1, -1, -1), new THREE.Vector3(1, 1, 1)); }
    box.getCenter(center);
    box.getSize(size);
    const maxDim = Math.max(size.x, size.y, size.z) || 1;
    const fov = this.camera.fov * Math.PI / 180;
    const dist = Math.abs(maxDim / (2 * Math.tan(fov / 2))) * 1.25;
    const cam = this.config.camera;
    const pos = cam.position ? new THREE.Vector3(...cam.position) : new THREE.Vector3(center.x, center.y, center.z + size.z / 2 + dist);
    const target = cam.lookAt ? new THREE.Vector3(...cam.lookAt) : center;
    this.camera.position.copy(pos);
    this.camera.far = cam.far || Math.max(1000, 3 * (pos.distanceTo(target) + maxDim));
    this.camera.near = Math.min(cam.near, this.camera.far / 1e4);
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(target);
    this.controls.update();
    this.controls.saveState();
  }

  resetCamera() {
    this.controls.reset();
    this.render();
  }

  resize() {
    const w = Math.max(100, this.el.clientWidth || 400);
    this.width = w;
    const hgt = Math.round(Math.min(640, Math.max(240, w * 0.75)));
    this.renderer.setSize(w, hgt);
    this.camera.aspect = w / hgt;
    this.camera.updateProjectionMatrix();
    if (this.object) this.render();
  }

  render() {
    this.renderer.render(this.scene, this.camera);
    this.renders++;
    this.canvas.dataset.renders = String(this.renders);
  }

  destroy() {
    this.canvas.removeEventListener('webglcontextlost', this.lost); // forceContextLoss below
    this.ro.disconnect();
    this.controls.dispose();
    if (this.object) {
      this.object.geometry.dispose();
      this.object.material.dispose();
    }
    this.renderer.dispose();
    this.renderer.forceContextLoss(); // browsers allow few live WebGL contexts
    this.renderer = null;
    this.canvas.remove();
  }
}
